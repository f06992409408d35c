// The learning loop on a lesson page: the quiz, self-check and flashcards in the lesson body are
// rendered once, statically, when content is published. This wires them to the learner's
// endpoints with htmx and marks what this learner already did (state from #learning-state).
"use strict";

(function () {
  function init() {
    const loop = document.getElementById("learning-loop");
    const stateNode = document.getElementById("learning-state");
    if (!loop || !stateNode || !window.htmx) return;
    const state = JSON.parse(stateNode.textContent);
    const urlFor = (name, key) => loop.dataset[name].replace("__key__", encodeURIComponent(key));

    const note = (container, text, kind) => {
      const span = document.createElement("span");
      span.className = "loop-note" + (kind ? " loop-note-" + kind : "");
      span.textContent = text;
      container.appendChild(span);
    };

    document.querySelectorAll("form.quiz-question[data-question]").forEach((form) => {
      const key = form.dataset.question;
      form.setAttribute("hx-post", urlFor("quizUrl", key));
      form.setAttribute("hx-target", "this");
      form.setAttribute("hx-swap", "outerHTML");
      const submit = form.querySelector("button[type=submit]");
      if (submit) submit.disabled = false;
      const past = state.quiz[key];
      const slot = form.querySelector("[data-feedback]");
      if (past && slot) {
        const tries = past.attempts === 1 ? "1 try" : past.attempts + " tries";
        if (past.correct) note(slot, "✓ You answered this right before (" + tries + ").", "good");
        else note(slot, "Your last answer was not right — have another go.", "bad");
      }
      htmx.process(form);
    });

    document.querySelectorAll("form.selfcheck-item[data-selfcheck]").forEach((form) => {
      const key = form.dataset.selfcheck;
      form.addEventListener("submit", (event) => event.preventDefault());
      const button = form.querySelector("button[type=submit]");
      const actions = button && button.closest(".quiz-actions");
      if (!button || !actions) return;
      button.type = "button";
      button.disabled = false;
      button.setAttribute("hx-get", urlFor("selfCheckUrl", key));
      button.setAttribute("hx-target", "closest .quiz-actions");
      button.setAttribute("hx-swap", "outerHTML");
      const slot = form.querySelector("[data-feedback]");
      if (key in state.selfChecks && slot) {
        if (state.selfChecks[key]) note(slot, "You marked this “got it”.", "good");
        else note(slot, "You marked this “not yet”.", "bad");
      }
      htmx.process(form);
    });

    document.querySelectorAll("details.flashcard[data-flashcard]").forEach((card) => {
      const key = card.dataset.flashcard;
      const actions = document.createElement("div");
      actions.className = "card-actions";
      actions.dataset.cardActions = key;
      const past = state.cards[key];
      if (past && past.due_on) note(actions, "↻ In your review pile", "review");
      else if (past) note(actions, "✓ Knew it last time", "good");
      for (const [answer, label] of [["1", "Knew it"], ["0", "Review again"]]) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "button button-small" + (answer === "0" ? " button-ghost" : "");
        button.textContent = label;
        button.setAttribute("hx-post", urlFor("cardUrl", key));
        button.setAttribute("hx-vals", JSON.stringify({ answer: answer }));
        button.setAttribute("hx-target", "closest .card-actions");
        button.setAttribute("hx-swap", "outerHTML");
        actions.appendChild(button);
      }
      card.appendChild(actions);
      htmx.process(actions);
    });
  }

  // A refused answer (say, "Choose an answer first.") is shown next to the button, not swapped.
  document.addEventListener("htmx:responseError", (event) => {
    const form = event.detail.elt.closest("form");
    const slot = form && form.querySelector("[data-feedback]");
    if (slot) slot.textContent = event.detail.xhr.responseText || "Something went wrong; try again.";
  });

  // Deferred scripts run before DOMContentLoaded, possibly before htmx itself: wait for it.
  if (document.readyState === "complete") init();
  else document.addEventListener("DOMContentLoaded", init);
})();
