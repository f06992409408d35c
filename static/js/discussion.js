// Querylab discussion: small enhancements over forms that work without JavaScript.
"use strict";
(() => {
  if (window.querylabDiscussion) return; // included once per page, however often it is loaded
  window.querylabDiscussion = true;

  // Let htmx put form errors (422) and the rate-limit message (429) into the form in place.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const status = event.detail.xhr.status;
    if (status === 422 || status === 429) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Live character counters under fields with a length limit.
  const updateCounter = (field) => {
    const counter = field.closest(".field")?.querySelector(".char-counter");
    if (!counter) return;
    const max = Number(field.getAttribute("maxlength")) || 0;
    counter.querySelector(".char-count").textContent = field.value.length;
    counter.classList.toggle("is-near-limit", max > 0 && field.value.length > max * 0.9);
  };
  document.addEventListener("input", (event) => {
    if (event.target.matches("[data-counter]")) updateCounter(event.target);
  });

  // A form loaded in place: open its <details>, focus it. Cancel removes it again.
  document.addEventListener("htmx:afterSwap", (event) => {
    const form = event.detail.target.matches?.("form") ? event.detail.target : event.detail.target.querySelector?.("form.post-form");
    const details = event.detail.target.closest?.("details");
    if (details) details.open = true;
    form?.querySelectorAll("[data-counter]").forEach(updateCounter);
    const first = form?.querySelector("input[type=text], textarea");
    if (first && event.detail.requestConfig?.verb === "get") first.focus();
  });
  document.addEventListener("click", (event) => {
    const cancel = event.target.closest("[data-dismiss-form]");
    const slot = cancel?.closest(".post-slot");
    if (slot) {
      event.preventDefault();
      slot.replaceChildren();
    }
  });

  // "Run in sandbox" next to SQL in posts. With the lesson's sandbox on the page its script
  // adds its own button to every [data-sql] block (and CSS hides this one); this one loads the
  // SQL into that sandbox if there is one, else asks whoever listens for `querylab:run-sql`,
  // else copies the SQL. It never runs anything by itself.
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button.run-in-sandbox");
    if (!button || !button.closest(".post-body")) return;
    const sql = (button.closest("[data-sql]")?.dataset.sql || "").trim();
    const sandbox = document.querySelector(".sandbox");
    if (sandbox && typeof sandbox.sandboxLoad === "function") {
      sandbox.sandboxLoad(sql, false);
      return;
    }
    const request = new CustomEvent("querylab:run-sql", {
      detail: { sql, source: button }, bubbles: true, cancelable: true,
    });
    button.dispatchEvent(request);
    if (request.defaultPrevented) return;
    try {
      await navigator.clipboard.writeText(sql);
      button.textContent = "Copied: no sandbox on this page";
    } catch {
      button.textContent = "No sandbox on this page";
    }
  });
})();
