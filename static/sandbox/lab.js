// The Django ORM lab (templates/sandbox/_lab.html): posts the learner's Python to /api/lab/run and
// shows what came back: how many statements Django sent (in large type), the repeated shapes and
// their hints (the N+1s), the error if any, what the code printed, the value of its last
// expression as a table, and every statement with its SQL, parameters, time and rows, repeated
// shapes grouped, each with an Explain button that opens the SQL sandbox's plan view.
// Lesson examples with `data-code` get "Run in lab". Needs common.js loaded first.
//
// Printed text, reprs, error messages and SQL are the learner's or the database's, and may carry
// HTML: every one of them goes into the page as a text node, never through innerHTML.
"use strict";
(function () {
  const editor = window.QuerylabEditor;

  function el(tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined && text !== null) element.textContent = text;
    return element;
  }

  function plural(count, one, many) {
    return count + " " + (count === 1 ? one : many);
  }

  function ms(value) {
    return (typeof value === "number" ? value.toFixed(value < 10 ? 2 : 1) : "?") + " ms";
  }

  // Hints are plain text with `code` in backticks, as in the lessons.
  function withCode(text) {
    const fragment = document.createDocumentFragment();
    String(text).split("`").forEach((part, index) => {
      if (!part) return;
      fragment.appendChild(index % 2 ? el("code", null, part) : document.createTextNode(part));
    });
    return fragment;
  }

  function cellText(value) {
    if (typeof value === "string") return value;
    return JSON.stringify(value);
  }

  function table(columns, rows, className) {
    const wrap = el("div", "sandbox-table-wrap");
    const tableElement = el("table", "sandbox-table " + (className || ""));
    const headRow = el("tr");
    columns.forEach((column) => {
      const th = el("th", null, column);
      th.scope = "col";
      headRow.appendChild(th);
    });
    tableElement.appendChild(el("thead")).appendChild(headRow);
    const body = tableElement.appendChild(el("tbody"));
    rows.forEach((row) => {
      const tr = body.appendChild(el("tr"));
      row.forEach((value) => {
        if (value === null) tr.appendChild(el("td", "sandbox-null", "NULL"));
        else tr.appendChild(el("td", null, cellText(value)));
      });
    });
    wrap.appendChild(tableElement);
    return wrap;
  }

  function sqlBlock(sql) {
    const pre = el("pre", "lab-sql");
    const code = pre.appendChild(el("code"));
    editor.paint(code, editor.sqlTokens(sql));
    return pre;
  }

  function params(values) {
    const p = el("p", "lab-params small");
    p.appendChild(el("span", "muted", "Parameters: "));
    p.appendChild(el("code", null, values && values.length ? JSON.stringify(values) : "none"));
    return p;
  }

  function facts(query) {
    const parts = [ms(query.ms)];
    if (typeof query.rows === "number") parts.push(plural(query.rows, "row", "rows"));
    return parts.join(" · ");
  }

  // An Explain button for one statement; its plan opens in `planBox` (one per statement or
  // group). A second press closes it.
  function explainButton(section, query, planBox) {
    const button = el("button", "button button-small button-ghost lab-explain", "Explain");
    button.type = "button";
    button.setAttribute("aria-expanded", "false");
    button.addEventListener("click", () => {
      const open = button.getAttribute("aria-expanded") === "true";
      planBox.parentElement.querySelectorAll(".lab-explain[aria-expanded='true']").forEach((other) => {
        other.setAttribute("aria-expanded", "false");
        other.textContent = "Explain";
      });
      if (open) {
        planBox.replaceChildren();
        planBox.hidden = true;
        return;
      }
      button.setAttribute("aria-expanded", "true");
      button.textContent = "Hide plan";
      planBox.hidden = false;
      planBox.replaceChildren(el("p", "muted small", "Explaining…"));
      window.htmx.ajax("POST", section.dataset.explainUrl, {
        source: button,
        target: planBox,
        swap: "innerHTML",
        // The lab answers each statement's SQL with its parameters already inlined (as
        // PostgreSQL received it), so it can be explained as it is.
        values: { lesson: section.dataset.lesson, sql: query.sql },
      });
    });
    return button;
  }

  function queryHead(numberText, query, extra) {
    const head = el("div", "lab-query-head");
    head.appendChild(el("span", "lab-query-number", numberText));
    if (extra) head.appendChild(extra);
    if (query) head.appendChild(el("span", "muted small", facts(query)));
    return head;
  }

  function singleQuery(section, number, query) {
    const item = el("li", "lab-query");
    const planBox = el("div", "lab-plan");
    planBox.hidden = true;
    const head = queryHead("#" + number, query);
    head.appendChild(explainButton(section, query, planBox));
    item.append(head, sqlBlock(query.sql), params(query.params), planBox);
    return item;
  }

  // "#2–#21", or "#2, #4–#6, #9" when other statements came in between.
  function numbers(list) {
    const ranges = [];
    list.forEach(({ number }) => {
      const last = ranges[ranges.length - 1];
      if (last && number === last[1] + 1) last[1] = number;
      else ranges.push([number, number]);
    });
    const text = ranges.map(([a, b]) => (a === b ? "#" + a : "#" + a + "–#" + b));
    return text.length > 4 ? text.slice(0, 3).join(", ") + ", … " + text[text.length - 1] : text.join(", ");
  }

  // Statements of one repeated shape (its hint is in the summary above): the SQL once, then each
  // statement's parameters, time and rows in a table (closed by default) with its own Explain.
  function groupedQueries(section, group) {
    const item = el("li", "lab-query lab-group");
    const planBox = el("div", "lab-plan");
    planBox.hidden = true;
    const badge = el("span", "lab-repeat-badge", "×" + group.entries.length + " same shape");
    const head = queryHead(numbers(group.entries), null, badge);
    const total = group.entries.reduce((sum, entry) => sum + (entry.query.ms || 0), 0);
    head.appendChild(el("span", "muted small", ms(total) + " in all"));
    head.appendChild(explainButton(section, group.entries[0].query, planBox));
    item.appendChild(head);
    item.appendChild(sqlBlock(group.entries[0].query.sql));
    const details = item.appendChild(el("details", "lab-group-details"));
    details.appendChild(el("summary", "small", "Each of the " + group.entries.length + " statements: parameters, time, rows"));
    const wrap = details.appendChild(el("div", "sandbox-table-wrap"));
    const tableElement = wrap.appendChild(el("table", "sandbox-table lab-group-table"));
    const headRow = tableElement.appendChild(el("thead")).appendChild(el("tr"));
    ["#", "Parameters", "Time", "Rows", ""].forEach((name) => {
      const th = headRow.appendChild(el("th", null, name));
      th.scope = "col";
    });
    const body = tableElement.appendChild(el("tbody"));
    group.entries.forEach(({ number, query }) => {
      const tr = body.appendChild(el("tr"));
      tr.appendChild(el("td", null, "#" + number));
      tr.appendChild(el("td")).appendChild(el("code", null, JSON.stringify(query.params || [])));
      tr.appendChild(el("td", null, ms(query.ms)));
      tr.appendChild(el("td", null, typeof query.rows === "number" ? String(query.rows) : "—"));
      tr.appendChild(el("td")).appendChild(explainButton(section, query, planBox));
    });
    item.appendChild(planBox);
    return item;
  }

  function queryList(section, queries, repeated) {
    const hints = new Map(repeated.map((shape) => [shape.fingerprint, shape.hint]));
    const groups = [];
    const byShape = new Map();
    queries.forEach((query, index) => {
      const entry = { number: index + 1, query };
      if (hints.has(query.fingerprint)) {
        let group = byShape.get(query.fingerprint);
        if (!group) {
          group = { hint: hints.get(query.fingerprint), entries: [] };
          byShape.set(query.fingerprint, group);
          groups.push(group);
        }
        group.entries.push(entry);
      } else {
        groups.push({ entries: [entry] });
      }
    });
    const list = el("ol", "lab-queries");
    groups.forEach((group) => {
      list.appendChild(group.hint !== undefined
        ? groupedQueries(section, group)
        : singleQuery(section, group.entries[0].number, group.entries[0].query));
    });
    return list;
  }

  function summary(queries, repeated, django) {
    const box = el("div", "lab-summary");
    const count = box.appendChild(el("p", "lab-count"));
    count.appendChild(el("strong", "lab-count-number", String(queries.length)));
    count.appendChild(el("span", "lab-count-label", queries.length === 1 ? " query" : " queries"));
    const total = queries.reduce((sum, query) => sum + (query.ms || 0), 0);
    if (queries.length > 1) count.appendChild(el("span", "muted small", " · " + ms(total) + " for all " + queries.length));
    else if (queries.length) count.appendChild(el("span", "muted small", " · " + ms(total)));
    if (django) count.appendChild(el("span", "muted small lab-version", " · Django " + django));
    repeated.forEach((shape) => {
      const note = box.appendChild(el("p", "lab-repeated"));
      note.setAttribute("role", "note");
      note.appendChild(el("strong", null, "Repeated: "));
      note.appendChild(withCode(shape.hint || "the same query shape ran " + shape.count + " times."));
    });
    return box;
  }

  function errorBox(error, section) {
    const box = el("div", "sandbox-error");
    box.setAttribute("role", "alert");
    const p = box.appendChild(el("p"));
    if (typeof error === "string") {
      p.textContent = error;
      return box;
    }
    const where = error.line ? " on line " + error.line : "";
    p.appendChild(el("strong", null, (error.type || "Error") + where + ": "));
    p.appendChild(document.createTextNode(error.message || ""));
    if (error.line) markLine(section.querySelector("textarea"), error.line);
    return box;
  }

  function markLine(textarea, line) {
    const lines = textarea.value.split("\n");
    if (line < 1 || line > lines.length) return;
    const start = lines.slice(0, line - 1).reduce((sum, text) => sum + text.length + 1, 0);
    if (textarea.codeEditor) {
      textarea.codeEditor.markError(start, start + lines[line - 1].length);
      return;
    }
    textarea.focus({ preventScroll: true });
    textarea.setSelectionRange(start, start + lines[line - 1].length);
  }

  function heading(text) {
    return el("h3", "lab-heading", text);
  }

  function show(section, output, answer) {
    const queries = Array.isArray(answer.queries) ? answer.queries : [];
    const repeated = Array.isArray(answer.repeated) ? answer.repeated : [];
    const parts = [];
    if (answer.queries) parts.push(summary(queries, repeated, answer.django));
    if (answer.error) parts.push(errorBox(answer.error, section));
    if (answer.output) {
      parts.push(heading("Printed"));
      parts.push(el("pre", "lab-printed", answer.output));
    }
    const result = answer.result;
    if (result && Array.isArray(result.columns)) {
      parts.push(heading("Value of the last line"));
      parts.push(table(result.columns, result.rows || []));
      if (result.truncated) parts.push(el("p", "sandbox-truncated small", "Truncated: only the first rows are shown."));
    }
    if (queries.length) {
      parts.push(heading("Statements Django sent, in order"));
      parts.push(queryList(section, queries, repeated));
    } else if (answer.queries && !answer.error) {
      parts.push(el("p", "muted", "Django sent no statement: a queryset is lazy until something reads it (a loop, list(), len(), print(), a slice with a step…)."));
    }
    if (answer.retry_after) parts.push(el("p", "sandbox-notice small", "Try again in " + answer.retry_after + " s."));
    output.replaceChildren(...parts);
  }

  async function run(section) {
    const output = section.querySelector(".lab-output");
    const textarea = section.querySelector("textarea");
    const buttons = section.querySelectorAll(".sandbox-actions button");
    section.classList.add("lab-running");
    buttons.forEach((button) => { button.disabled = true; });
    let answer;
    try {
      const response = await fetch(section.dataset.runUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": editor.csrfToken() },
        body: JSON.stringify({ lesson: section.dataset.lesson, code: textarea.value }),
        credentials: "same-origin",
      });
      try {
        answer = await response.json();
      } catch (e) {
        answer = { ok: false, error: "The lab answered " + response.status + " " + response.statusText + "." };
      }
      if (response.status === 429 && !answer.retry_after) answer.retry_after = response.headers.get("Retry-After");
    } catch (e) {
      answer = { ok: false, error: "Lab unavailable: the site could not be reached." };
    } finally {
      section.classList.remove("lab-running");
      buttons.forEach((button) => { button.disabled = false; });
    }
    show(section, output, answer);
    section.dispatchEvent(new CustomEvent("lab:ran", { bubbles: true, detail: answer }));
  }

  function setUp(section) {
    if (section.dataset.ready) return;
    section.dataset.ready = "1";
    const form = section.querySelector("form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      run(section);
    });
    const labEditor = editor.attach(section.querySelector("textarea"), {
      pre: section.querySelector(".sandbox-highlight"),
      tokens: editor.pythonTokens,
      indent: "    ",
      key: "querylab:lab:" + section.dataset.lesson,
      run: () => form.requestSubmit(),
    });
    editor.addRunButtons(document, {
      attribute: "data-code",
      buttonSelector: "button.run-code",
      label: "Run in lab",
      loadLabel: "Load into lab",
      section,
      output: section.querySelector(".lab-output"),
      load: (code, run) => labEditor.load(code, section, run),
    });
  }

  // Answers to exercises on lab lessons are Python: Tab indents there too, Ctrl/Cmd+Enter checks,
  // and each exercise keeps its last answer.
  function setUpExercises(root, lesson) {
    root.querySelectorAll(".exercise-form textarea[name='code']:not([data-ready])").forEach((textarea) => {
      textarea.setAttribute("data-ready", "1");
      const form = textarea.closest("form");
      const exercise = form.querySelector("input[name='exercise']");
      editor.attach(textarea, {
        tokens: editor.pythonTokens,
        indent: "    ",
        key: "querylab:lab:" + lesson + ":" + (exercise ? exercise.value : ""),
        run: () => form.requestSubmit(),
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const section = document.querySelector(".sandbox.lab");
    if (!section) return;
    setUp(section);
    setUpExercises(document, section.dataset.lesson);
  });
  // Checking an exercise answers with problems written like the lessons, `code` in backticks.
  document.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail.target;
    if (!target || !target.closest(".block-exercise")) return;
    target.querySelectorAll(".exercise-verdict li, .lab-repeated").forEach((item) => {
      Array.from(item.childNodes).forEach((node) => {
        if (node.nodeType === Node.TEXT_NODE && node.textContent.split("`").length > 2) {
          node.replaceWith(withCode(node.textContent));
        }
      });
    });
  });
  // A plan that cannot be made (a bad request, a limit) still has a message to show.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (!target || !target.closest(".lab, .block-exercise")) return;
    if ([400, 429, 503].includes(event.detail.xhr.status)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
