// The SQL sandbox: the editor (common.js: highlighting, Ctrl/Cmd+Enter, Tab, the last query kept
// per lesson), errors marked in the SQL, and a "Run in sandbox" button on the lesson's `[data-sql]`
// examples. Needs common.js loaded first. The page works without this file (the form still posts).
"use strict";
(function () {
  const editor = window.QuerylabEditor;

  function setUp(section) {
    if (section.dataset.ready) return;
    section.dataset.ready = "1";
    const form = section.querySelector("form");
    section.sandboxEditor = editor.attach(section.querySelector("textarea"), {
      pre: section.querySelector(".sandbox-highlight"),
      tokens: editor.sqlTokens,
      key: "querylab:sandbox:" + section.dataset.lesson,
      run: () => form.requestSubmit(),
    });
    section.sandboxLoad = (sql, run) => section.sandboxEditor.load(sql, section, run);
  }

  function addRunButtons(root) {
    const section = document.querySelector(".sandbox:not(.lab)");
    if (!section) return;
    editor.addRunButtons(root, {
      attribute: "data-sql",
      buttonSelector: "button.run-sql",
      label: "Run in sandbox",
      loadLabel: "Load into sandbox",
      section,
      output: section.querySelector("#sandbox-output"),
      load: (sql, run) => section.sandboxLoad(sql, run),
    });
  }

  function markError(output) {
    const error = output.querySelector("[data-error-position]");
    const section = output.closest(".sandbox");
    if (!error || !section) return;
    const position = parseInt(error.dataset.errorPosition, 10);
    const textarea = section.querySelector("textarea");
    if (!position || !textarea) return;
    if (textarea.codeEditor && window.QuerylabCodeEditor) {
      const [from, to] = window.QuerylabCodeEditor.errorRange(textarea.value, position);
      textarea.codeEditor.markError(from, to);
      return;
    }
    textarea.focus({ preventScroll: true });
    textarea.setSelectionRange(position - 1, Math.min(position, textarea.value.length));
  }

  function init(root) {
    root.querySelectorAll(".sandbox:not(.lab)").forEach(setUp);
    addRunButtons(root);
  }

  // For pages that add lesson text by other means: QuerylabSandbox.scan(element).
  window.QuerylabSandbox = { scan: init };
  document.addEventListener("DOMContentLoaded", () => init(document));
  document.addEventListener("htmx:load", (event) => init(event.target));
  // Limits (429), bad requests (400) and an unavailable server (503) carry a message to show.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (target && target.id === "sandbox-output" && [400, 429, 503].includes(event.detail.xhr.status)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "sandbox-output") markError(event.detail.target);
  });
  document.addEventListener("htmx:sendError", (event) => {
    const output = document.getElementById("sandbox-output");
    if (output) output.innerHTML = '<p class="sandbox-error" role="alert">Sandbox unavailable: the site could not be reached.</p>';
  });
})();
