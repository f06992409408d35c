// The workbench editor: CodeMirror 6 over the sandbox's and the lab's <textarea>
// (templates/sandbox/_sandbox.html, _lab.html). Built into static/editor/editor.js by
// `npm run build` in frontend/, once with sql.js and once with python.js (its language).
// Loaded only on pages with an editor.
//
// Progressive enhancement: the textarea stays the form's field. It is hidden from view and from
// the tab order once the editor is there, and kept in sync both ways: what the learner types
// goes into it (with an "input" event, so common.js keeps the text per lesson), and what a
// script puts into it (common.js's "Run in sandbox", a test's fill) comes back with its "input"
// event. Without JavaScript the textarea is all there is, and the form still posts.
import { EditorState, StateEffect, StateField, Prec } from "@codemirror/state";
import {
  EditorView, keymap, Decoration, lineNumbers, highlightActiveLine, drawSelection, placeholder,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import {
  bracketMatching, indentOnInput, indentUnit, syntaxHighlighting,
} from "@codemirror/language";
import {
  autocompletion, closeBrackets, closeBracketsKeymap, closeCompletion, completionKeymap,
} from "@codemirror/autocomplete";
import { classHighlighter } from "@lezer/highlight";
import { setUpDock } from "./dock.js";

// The error the server found, marked in the text until the text changes.
const setError = StateEffect.define();
const errorField = StateField.define({
  create: () => Decoration.none,
  update(marks, transaction) {
    if (transaction.docChanged) return Decoration.none;
    for (const effect of transaction.effects) {
      if (effect.is(setError)) {
        const { from, to } = effect.value;
        marks = to > from
          ? Decoration.set([Decoration.mark({ class: "cm-error-mark", attributes: { title: "The error is here" } }).range(from, to)])
          : Decoration.none;
      }
    }
    return marks;
  },
  provide: (field) => EditorView.decorations.from(field),
});

// Typing over a selection is left to the browser by CodeMirror, and Chromium then wraps the
// new text in a <span style="…"> to keep the look of what it replaced: an inline style the
// Content-Security-Policy refuses (and reports). Replace the selection here instead.
const typeOverSelection = EditorView.domEventHandlers({
  beforeinput(event, view) {
    if (event.inputType !== "insertText" || !event.data || view.state.selection.main.empty) return false;
    event.preventDefault();
    view.dispatch(view.state.replaceSelection(event.data), { userEvent: "input.type", scrollIntoView: true });
    return true;
  },
});

function styleNonce() {
  const script = document.querySelector("script[data-style-nonce]");
  return script ? script.dataset.styleNonce : "";
}

// Everything the editor does, for `kind` ("sql" or "python") over `textarea` (its form, its
// placeholder); `sync` tells the textarea of each change.
function extensions(kind, textarea, languageExtensions, sync) {
  const form = textarea.closest("form");
  return [
    lineNumbers(),
    history(),
    drawSelection(),
    indentOnInput(),
    bracketMatching(),
    closeBrackets(),
    highlightActiveLine(),
    // At most 12 options in the page at once (the list moves with the arrow keys), so the
    // list never scrolls: a scrolled listbox the focus cannot enter fails axe.
    autocompletion({ activateOnTyping: true, icons: false, maxRenderedOptions: 12 }),
    syntaxHighlighting(classHighlighter),
    indentUnit.of(kind === "python" ? "    " : "  "),
    EditorState.tabSize.of(kind === "python" ? 4 : 2),
    languageExtensions,
    errorField,
    typeOverSelection,
    EditorView.lineWrapping,
    placeholder(textarea.placeholder || ""),
    EditorView.cspNonce.of(styleNonce()),
    EditorView.contentAttributes.of({
      "aria-label": (kind === "python" ? "Python code" : "SQL") +
        " editor. Ctrl+Enter runs; Tab indents; Escape then Tab leaves the editor.",
      "aria-multiline": "true",
    }),
    // Ctrl/Cmd+Enter runs (and closes the completion list: then Escape, Tab leaves at once).
    Prec.highest(keymap.of([{
      key: "Mod-Enter",
      run: (target) => { closeCompletion(target); form.requestSubmit(); return true; },
    }])),
    keymap.of([...closeBracketsKeymap, ...completionKeymap, ...defaultKeymap, ...historyKeymap, indentWithTab]),
    EditorView.updateListener.of((update) => { if (update.docChanged) sync(update.state.doc.toString()); }),
  ];
}

function enhance(section, kind, language) {
  const textarea = section.querySelector(".sandbox-editor textarea");
  if (!textarea || textarea.codeEditor || textarea.disabled) return;
  let fromTextarea = false;
  const sync = (text) => {
    if (fromTextarea) return;
    textarea.value = text;
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  };
  const view = new EditorView({
    parent: textarea.parentElement,
    state: EditorState.create({
      doc: textarea.value,
      extensions: extensions(kind, textarea, language(section), sync),
    }),
  });
  textarea.insertAdjacentElement("afterend", view.dom);
  textarea.addEventListener("input", () => {
    const text = textarea.value;
    if (text === view.state.doc.toString()) return;
    fromTextarea = true;
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    fromTextarea = false;
  });
  textarea.tabIndex = -1;
  textarea.setAttribute("aria-hidden", "true");
  section.querySelector(".sandbox-editor").classList.add("has-code-editor");
  textarea.codeEditor = {
    view,
    focus() { view.focus(); },
    // Select [from, to) (0-based) and mark it as the error's place.
    markError(from, to) {
      const length = view.state.doc.length;
      from = Math.max(0, Math.min(from, length));
      to = Math.max(from, Math.min(to, length));
      view.dispatch({
        selection: { anchor: from, head: to },
        effects: [setError.of({ from, to }), EditorView.scrollIntoView(from, { y: "center" })],
      });
      view.focus();
    },
  };
}

// The word (or the character) at a 1-based error position of the whole text.
function errorRange(text, position) {
  const from = position - 1;
  const word = /^[\w$]+/.exec(text.slice(from));
  return [from, from + (word ? word[0].length : 1)];
}

// Enhance the editors of `selector` (".sandbox:not(.lab)" or ".sandbox.lab") with `language`
// (section → extensions), and dock the lesson's sandbox.
export function start(selector, kind, language) {
  const init = () => {
    document.querySelectorAll(selector).forEach((section) => enhance(section, kind, language));
    setUpDock();
  };
  window.QuerylabCodeEditor = { errorRange };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
}
