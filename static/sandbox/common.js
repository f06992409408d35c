// What the SQL sandbox (sandbox.js) and the Django ORM lab (lab.js) share: a highlighted code
// editor (a plain textarea over a painted <pre>, which static/editor/ replaces with CodeMirror
// where it loads, keeping the textarea in sync; Ctrl/Cmd+Enter runs, Tab indents, the last text
// is kept per lesson), highlighters for SQL and Python, "Run in …" buttons on lesson examples
// with a link back, and the CSRF token for fetch(). (Exercise hints are served by the server
// as they unlock: sandbox/exercise_help.py.) Load it
// before either of them.
//
// Everything is built with DOM nodes and textContent: the text painted here is the learner's or
// the server's, and either may contain HTML.
"use strict";
(function () {
  const SQL_KEYWORDS = new Set((
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
  const SQL_TOKEN = /(--[^\n]*|\/\*[\s\S]*?(?:\*\/|$))|('(?:[^']|'')*'?)|("(?:[^"]|"")*"?)|(\$\$[\s\S]*?(?:\$\$|$))|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_$]*)/g;

  const PY_KEYWORDS = new Set((
    "False None True and as assert break class continue def del elif else except finally for " +
    "from global if import in is lambda nonlocal not or pass raise return try while with yield"
  ).split(" "));
  const PY_BUILTINS = new Set((
    "print len list dict set tuple range sum sorted min max str int float bool enumerate zip " +
    "any all abs round reversed isinstance"
  ).split(" "));
  // Triple-quoted strings first, then one-line strings (with an optional prefix), comments,
  // numbers and names.
  const PY_TOKEN = /((?:\b[rRbBfFuU]{1,2})?(?:"""[\s\S]*?(?:"""|$)|'''[\s\S]*?(?:'''|$)))|((?:\b[rRbBfFuU]{1,2})?(?:"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?))|(#[^\n]*)|(\b\d[\d_]*(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)/g;

  // Both tokenizers answer a list of [class or null, text] whose texts add up to the input.
  function tokenize(text, pattern, classify) {
    const tokens = [];
    let last = 0;
    pattern.lastIndex = 0;
    for (let match; (match = pattern.exec(text)); ) {
      if (match.index > last) tokens.push([null, text.slice(last, match.index)]);
      tokens.push([classify(match), match[0]]);
      last = match.index + match[0].length;
      if (match[0] === "") pattern.lastIndex += 1;
    }
    if (last < text.length) tokens.push([null, text.slice(last)]);
    return tokens;
  }

  function sqlTokens(sql) {
    return tokenize(sql, SQL_TOKEN, (m) => {
      if (m[1]) return "c";
      if (m[2] || m[4]) return "s";
      if (m[5]) return "n";
      if (m[6] && SQL_KEYWORDS.has(m[6].toLowerCase())) return "k";
      return null;
    });
  }

  function pythonTokens(code) {
    return tokenize(code, PY_TOKEN, (m) => {
      if (m[1] || m[2]) return "s";
      if (m[3]) return "c";
      if (m[4]) return "n";
      if (m[5] && PY_KEYWORDS.has(m[5])) return "k";
      // `objects.all()` is a method, not the builtin all().
      if (m[5] && PY_BUILTINS.has(m[5]) && code[m.index - 1] !== ".") return "b";
      return null;
    });
  }

  // Paint tokens into an element as text nodes and <span class="t-…">s.
  function paint(element, tokens) {
    const fragment = document.createDocumentFragment();
    for (const [cls, text] of tokens) {
      if (cls) {
        const span = document.createElement("span");
        span.className = "t-" + cls;
        span.textContent = text;
        fragment.appendChild(span);
      } else {
        fragment.appendChild(document.createTextNode(text));
      }
    }
    element.replaceChildren(fragment);
  }

  function store(key, value) {
    try { localStorage.setItem(key, value); } catch (e) { /* private mode */ }
  }

  function stored(key) {
    try { return localStorage.getItem(key) || ""; } catch (e) { return ""; }
  }

  // Make a textarea into an editor. `options.pre` is the <pre><code> under it that shows the
  // text highlighted with `options.tokens` (sqlTokens or pythonTokens; without a `pre` the
  // textarea stays plain), `options.key` the localStorage key, `options.run` what Ctrl/Cmd+Enter
  // does, `options.indent` what Tab inserts. Answers {load(text, section, run), paint()}.
  function attach(textarea, options) {
    const pre = options.pre;
    const repaint = () => {
      if (!pre) return;
      // A trailing newline needs a character after it to take up a line in the <pre>.
      paint(pre.querySelector("code"), options.tokens(textarea.value + "\n"));
      pre.scrollTop = textarea.scrollTop;
      pre.scrollLeft = textarea.scrollLeft;
    };
    const save = () => store(options.key, textarea.value);
    if (!textarea.value) textarea.value = stored(options.key);
    repaint();
    textarea.addEventListener("input", () => { repaint(); save(); });
    textarea.addEventListener("scroll", repaint);
    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        options.run();
      } else if (event.key === "Tab" && !event.shiftKey && !event.altKey) {
        event.preventDefault();
        const { selectionStart: start, selectionEnd: end, value } = textarea;
        const indent = options.indent || "  ";
        textarea.value = value.slice(0, start) + indent + value.slice(end);
        textarea.selectionStart = textarea.selectionEnd = start + indent.length;
        // Repaints, saves, and tells the code editor (static/editor/) if there is one.
        textarea.dispatchEvent(new Event("input"));
      }
    });
    return {
      paint: repaint,
      load(text, section, run) {
        textarea.value = text;
        textarea.dispatchEvent(new Event("input"));
        // A sandbox docked beside the lesson (static/editor/) is already in view.
        if (getComputedStyle(section).position !== "fixed") {
          section.scrollIntoView({ behavior: "smooth", block: "start" });
        }
        focusEditor(textarea);
        if (run) options.run();
      },
    };
  }

  // The code editor over the textarea (static/editor/, CodeMirror) when it is there, else the
  // textarea itself.
  function focusEditor(textarea) {
    if (textarea.codeEditor) textarea.codeEditor.focus();
    else textarea.focus({ preventScroll: true });
  }

  // Give every element with `attribute` (a lesson example) a button that loads its text into
  // the editor and runs it. Lesson examples carry a hidden placeholder button (`buttonSelector`)
  // in their header, used in place; other elements get one after them.
  // Only the lesson's own examples (`data-example`, written by instructors) run at the click.
  // Code anywhere else, such as someone's discussion post, is loaded into the editor for the
  // learner to read and run: one click must never run a stranger's `DELETE FROM books;`.
  function addRunButtons(root, options) {
    root.querySelectorAll(`[${options.attribute}]:not([data-run-ready])`).forEach((element) => {
      element.setAttribute("data-run-ready", "1");
      const runsAtOnce = element.hasAttribute("data-example") && !element.closest(".post-body");
      // Lesson examples carry a hidden placeholder button in their header; use it in place.
      let button = runsAtOnce ? element.querySelector(options.buttonSelector) : null;
      if (button) {
        button.hidden = false;
        button.disabled = false;
      } else {
        button = document.createElement("button");
        button.type = "button";
        button.className = "button button-small button-ghost sandbox-run-example";
        button.textContent = runsAtOnce ? options.label : options.loadLabel;
        element.insertAdjacentElement("afterend", button);
      }
      button.addEventListener("click", () => {
        const text = element.getAttribute(options.attribute) || element.textContent;
        showWayBack(options.section, options.output, element);
        options.load(text.trim(), runsAtOnce);
      });
    });
  }

  // Running an example scrolls the page down to the editor; a link leads back to where the
  // learner was reading.
  function showWayBack(section, output, element) {
    if (!element.id) return;
    let link = section.querySelector(".sandbox-back");
    if (!link) {
      link = document.createElement("a");
      link.className = "sandbox-back small";
      output.insertAdjacentElement("beforebegin", link);
    }
    const title = element.querySelector(".block-title");
    link.href = "#" + element.id;
    link.textContent = "↑ Back to " + (title ? "“" + title.textContent.trim() + "”" : "the example");
  }

  // The token base.html gives htmx (hx-headers on <body>), for requests made with fetch().
  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  window.QuerylabEditor = { attach, addRunButtons, csrfToken, focusEditor, paint, pythonTokens, sqlTokens };
})();
