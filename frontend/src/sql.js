// The SQL editor (static/editor/sql.js): PostgreSQL highlighting, keywords, types, common
// functions, and the learner's own tables and columns as completions.
import { sql, PostgreSQL, schemaCompletionSource } from "@codemirror/lang-sql";
import { start } from "./editor.js";

// Functions a learner of the track reaches for, offered with the keywords and types the
// PostgreSQL dialect already knows.
const FUNCTIONS = (
  "abs array_agg array_length avg bool_and bool_or ceil coalesce concat count cume_dist " +
  "current_date current_timestamp date_part date_trunc dense_rank extract first_value " +
  "floor format generate_series greatest jsonb_agg jsonb_build_object jsonb_each " +
  "jsonb_path_query json_agg lag lead least left length lower lpad max min now nullif " +
  "ntile percent_rank percentile_cont position random rank regexp_replace replace " +
  "round row_number split_part string_agg substring sum to_char to_tsquery to_tsvector " +
  "trim unnest upper width_bucket pg_size_pretty pg_relation_size age"
).split(" ").map((name) => ({ label: name, type: "function", apply: name + "(", boost: -1 }));

function functionSource(context) {
  const word = context.matchBefore(/\w+/);
  if (!word || (word.from === word.to && !context.explicit)) return null;
  return { from: word.from, options: FUNCTIONS, validFor: /^\w*$/ };
}

// The learner's own tables and columns, read from their sandbox (POST /api/sandbox/schema) the
// first time completion needs them after each run: a run may have created or dropped a table.
function learnerSchema(section) {
  let schema = null;
  let pending = null;
  const source = { ready: null };
  const fetchSchema = () => {
    const url = section.dataset.schemaUrl;
    if (!url) return Promise.resolve({});
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ lesson: section.dataset.lesson }),
      credentials: "same-origin",
    })
      .then((response) => (response.ok ? response.json() : { tables: [] }))
      .then((answer) => {
        const tables = {};
        (answer.tables || []).forEach((table) => { tables[table.name] = table.columns || []; });
        return tables;
      })
      .catch(() => ({}));
  };
  source.stale = () => { schema = null; };
  source.complete = async (context) => {
    if (!context.matchBefore(/[\w."]+/) && !context.explicit) return null;
    if (!schema) {
      pending = pending || fetchSchema();
      const tables = await pending;
      pending = null;
      schema = schemaCompletionSource({ dialect: PostgreSQL, schema: tables });
    }
    return schema(context);
  };
  return source;
}

function csrfToken() {
  try {
    return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
  } catch (e) {
    return "";
  }
}

function language(section) {
  const schema = learnerSchema(section);
  section.schemaSource = schema;
  return [
    sql({ dialect: PostgreSQL, upperCaseKeywords: false }),
    PostgreSQL.language.data.of({ autocomplete: schema.complete }),
    PostgreSQL.language.data.of({ autocomplete: functionSource }),
  ];
}

start(".sandbox:not(.lab)", "sql", language);
// After a run, the learner's tables may have changed: completion asks again when next needed.
document.addEventListener("htmx:afterSwap", (event) => {
  const section = event.detail.target && event.detail.target.closest(".sandbox");
  if (section && section.schemaSource) section.schemaSource.stale();
});
