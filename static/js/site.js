// Querylab's small progressive enhancements. Every page works without this file.
"use strict";

// Copy buttons on code blocks (rendered hidden, shown only when the clipboard is usable).
document.addEventListener("DOMContentLoaded", () => {
  if (!navigator.clipboard) return;
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const code = button.closest(".code-block").querySelector("pre");
      try {
        await navigator.clipboard.writeText(code.innerText.replace(/\n$/, ""));
        button.textContent = "Copied";
        button.classList.add("copied");
      } catch {
        button.textContent = "Press Ctrl+C";
      }
      setTimeout(() => { button.textContent = "Copy"; button.classList.remove("copied"); }, 1600);
    });
  }
});

// j / → for the next lesson, k / ← for the previous one; never while typing or with modifiers.
document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
  const target = event.target;
  if (target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']")) return;
  const rel = { j: "next", ArrowRight: "next", k: "prev", ArrowLeft: "prev" }[event.key];
  if (!rel) return;
  const link = document.querySelector(`link[rel="${rel}"]`);
  if (link) {
    event.preventDefault();
    window.location.href = link.href;
  }
});

// Code that scrolls sideways must be reachable from the keyboard (arrow keys scroll it).
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("pre, .highlight").forEach((element) => {
    if (element.scrollWidth > element.clientWidth && !element.hasAttribute("tabindex")) {
      element.setAttribute("tabindex", "0");
    }
  });
});
