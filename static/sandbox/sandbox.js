// The sandbox editor: SQL highlighting under a plain textarea, Ctrl/Cmd+Enter runs, Tab indents,
// the last query is kept per lesson, errors are marked, and `[data-sql]` examples in the lesson
// get a "Run in sandbox" button. The page works without this file (the form still posts).
"use strict";
(function () {
  const KEYWORDS = new Set((
    "select from where and or not in is null as on join left right full inner outer cross " +
    "group by order having limit offset insert into values update set delete create table " +
    "index view drop alter add column primary key foreign references unique check default " +
    "distinct union all except intersect case when then else end explain analyze with " +
    "recursive returning begin commit rollback savepoint true false asc desc exists between " +
    "like ilike any some cast over partition window filter lateral using natural truncate " +
    "sequence materialized refresh concurrently vacuum function returns language do " +
    "trigger before after each row execute procedure declare if loop return raise notice " +
    "perform merge matched nothing conflict only nulls first last grant revoke to of for " +
    "share nowait skip locked constraint not deferrable type enum domain"
  ).split(" "));
  const TOKEN = /(--[^\n]*|\/\*[\s\S]*?(?:\*\/|$))|('(?:[^']|'')*'?)|("(?:[^"]|"")*"?)|(\$\$[\s\S]*?(?:\$\$|$))|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_$]*)/g;

  function escapeHtml(text) {
    return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  function highlight(sql) {
    let out = "";
    let last = 0;
    sql.replace(TOKEN, (match, comment, string, ident, dollar, number, word, index) => {
      out += escapeHtml(sql.slice(last, index));
      let cls = null;
      if (comment) cls = "c";
      else if (string || dollar) cls = "s";
      else if (number) cls = "n";
      else if (word && KEYWORDS.has(word.toLowerCase())) cls = "k";
      out += cls ? `<span class="t-${cls}">${escapeHtml(match)}</span>` : escapeHtml(match);
      last = index + match.length;
      return match;
    });
    // A trailing newline needs a character after it to take up a line in the <pre>.
    return out + escapeHtml(sql.slice(last)) + "\n";
  }

  function setUp(section) {
    if (section.dataset.ready) return;
    section.dataset.ready = "1";
    const form = section.querySelector("form");
    const textarea = section.querySelector("textarea");
    const code = section.querySelector(".sandbox-highlight code");
    const pre = section.querySelector(".sandbox-highlight");
    const key = "querylab:sandbox:" + section.dataset.lesson;

    const paint = () => {
      code.innerHTML = highlight(textarea.value);
      pre.scrollTop = textarea.scrollTop;
      pre.scrollLeft = textarea.scrollLeft;
    };
    const save = () => {
      try { localStorage.setItem(key, textarea.value); } catch (e) { /* private mode */ }
    };
    if (!textarea.value) {
      try { textarea.value = localStorage.getItem(key) || ""; } catch (e) { /* private mode */ }
    }
    paint();
    textarea.addEventListener("input", () => { paint(); save(); });
    textarea.addEventListener("scroll", paint);
    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      } else if (event.key === "Tab" && !event.shiftKey && !event.altKey) {
        event.preventDefault();
        const { selectionStart: start, selectionEnd: end, value } = textarea;
        textarea.value = value.slice(0, start) + "  " + value.slice(end);
        textarea.selectionStart = textarea.selectionEnd = start + 2;
        paint();
        save();
      }
    });
    section.sandboxLoad = (sql, run) => {
      textarea.value = sql;
      paint();
      save();
      section.scrollIntoView({ behavior: "smooth", block: "start" });
      textarea.focus({ preventScroll: true });
      if (run) form.requestSubmit();
    };
  }

  function addRunButtons(root) {
    const section = document.querySelector(".sandbox");
    if (!section) return;
    root.querySelectorAll("[data-sql]:not([data-sql-ready])").forEach((element) => {
      element.setAttribute("data-sql-ready", "1");
      // Only the lesson's own examples (written by instructors) run at the click. SQL anywhere
      // else, such as someone's discussion post, is loaded into the editor for the learner to
      // read and run: one click must never run a stranger's `DELETE FROM books;`.
      const runsAtOnce = element.hasAttribute("data-example") && !element.closest(".post-body");
      // Lesson examples carry a hidden placeholder button in their header; use it in place.
      let button = runsAtOnce ? element.querySelector("button.run-sql") : null;
      if (button) {
        button.hidden = false;
        button.disabled = false;
      } else {
        button = document.createElement("button");
        button.type = "button";
        button.className = "button button-small button-ghost sandbox-run-example";
        button.textContent = runsAtOnce ? "Run in sandbox" : "Load into sandbox";
        element.insertAdjacentElement("afterend", button);
      }
      button.addEventListener("click", () => {
        const sql = element.getAttribute("data-sql") || element.textContent;
        showWayBack(section, element);
        section.sandboxLoad(sql.trim(), runsAtOnce);
      });
    });
  }

  // Running an example scrolls the page down to the sandbox; a link leads back to where the
  // learner was reading.
  function showWayBack(section, element) {
    if (!element.id) return;
    let link = section.querySelector(".sandbox-back");
    if (!link) {
      link = document.createElement("a");
      link.className = "sandbox-back small";
      section.querySelector("#sandbox-output").insertAdjacentElement("beforebegin", link);
    }
    const title = element.querySelector(".block-title");
    link.href = "#" + element.id;
    link.textContent = "↑ Back to " + (title ? "“" + title.textContent.trim() + "”" : "the example");
  }

  function markError(output) {
    const error = output.querySelector("[data-error-position]");
    const section = output.closest(".sandbox");
    if (!error || !section) return;
    const position = parseInt(error.dataset.errorPosition, 10);
    const textarea = section.querySelector("textarea");
    if (!position || !textarea) return;
    textarea.focus({ preventScroll: true });
    textarea.setSelectionRange(position - 1, Math.min(position, textarea.value.length));
  }

  function init(root) {
    root.querySelectorAll(".sandbox").forEach(setUp);
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

// Exercise hints unlock one by one: hint N+1 appears once hint N has been opened. Without this
// file every hint is simply there.
(function () {
  document.querySelectorAll(".block-exercise").forEach((block) => {
    const hints = Array.from(block.querySelectorAll("details.hint"));
    hints.forEach((hint, index) => {
      if (index > 0) hint.hidden = true;
      hint.addEventListener("toggle", () => {
        if (hint.open && hints[index + 1]) hints[index + 1].hidden = false;
      });
    });
  });
})();
