"""Plan advice: what to try about a plan, computed from ``EXPLAIN (ANALYZE, FORMAT JSON)``
(and, when the explain could read it, the learner's own indexes). Pure functions, no database,
in the style of ``sandbox/plans.py``, whose exclusive times they rank by.

``advise(explained, indexes)`` answers at most three findings, costliest first, one per node.
The situations the track teaches, and when each is reported:

- ``function_on_index``: a scan's filter wraps an indexed column in a cast or function
  (``customer_id::text = '777'``, ``created_at::date = …``), so the index on the bare column
  cannot serve it, and the filter throws away most of what the scan reads. Needs the indexes.
- ``index_reads_too_much``: an index or bitmap scan whose filter removes at least ``FAR_MORE``
  times the rows it returns (and at least ``MIN_REMOVED``), when the filter compares columns an
  index could hold; or whose bitmap became lossy for want of ``work_mem`` (BRIN, GIN and GiST
  rechecks are lossy by design and left alone).
- ``seq_scan_filter``: a sequential scan whose filter removes at least ``MOST`` of the rows it
  reads (and at least ``MIN_REMOVED``): an index on the filter's columns.
- ``spill``: a sort, hash or hash aggregate that wrote to disk (``work_mem``, or an index that
  delivers the order).
- ``nested_loop``: a nested loop whose inner side ran ``MANY_LOOPS`` times or more (``SEQ_LOOPS``
  for a sequential scan) and took at least ``NESTED_SHARE`` of the time.
- ``misestimate``: the lowest table scan or join whose row estimate is off by
  ``plans.MISESTIMATE_FLAG`` (10×) or more: too low, with at least ``MIN_MISESTIMATE_ROWS``
  actual rows (more rows than planned for is what makes plans slow); too high, only where a
  join above chose its method by it, and not where the node may have been stopped early (under
  a Limit, a merge join or a semi/anti join, in a subplan: the estimate is then for rows nobody
  asked for). Group counts, functions' rows and recursive CTEs are guesses that statistics
  cannot fix, and are left alone.
- ``nested_loop`` counts only table scans repeated (not ``unnest(…)`` per row), and takes the
  place of a finding on the scan it repeats.

What a finding costs, for ranking: the time of the node that does the wasted work (a scan's
inclusive time, a spilled node's own time, the inner side's total over all loops); for a
misestimate, the time of the node that planned with the wrong number (its parent).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from sandbox import plans
from sandbox.plan_conditions import compared_columns, left_sides, wrapped_columns

MAX_FINDINGS = 3
MOST = 0.9  # a filter that removes this share of the rows read "removes most rows"
FAR_MORE = 10  # an index scan reading this many times the rows it returns
MIN_REMOVED = 1000  # fewer rows thrown away than this is not worth an index
MANY_LOOPS = 1000
SEQ_LOOPS = 10
NESTED_SHARE = 0.25
MIN_MISESTIMATE_ROWS = 100
REPEATED_SCANS = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan"}
JOINS = {"Nested Loop", "Hash Join", "Merge Join"}
# Estimates that statistics (ANALYZE, targets, CREATE STATISTICS) make: those of table scans
# and joins. Group counts, functions' rows and recursive CTEs are guesses statistics cannot fix.
ESTIMATED_FROM_STATISTICS = REPEATED_SCANS | JOINS | {"Bitmap Index Scan"}

# One finding per node; when several apply, the first kind in this order is kept.
KINDS = (
    "function_on_index",
    "index_reads_too_much",
    "seq_scan_filter",
    "spill",
    "nested_loop",
    "misestimate",
)


@dataclass
class Finding:
    """One piece of advice about one node."""

    kind: str
    node_id: int
    node: str  # the node's label, as psql names it
    title: str
    detail: str
    suggestion: str
    sql: str  # something to try, or ""
    cost_ms: float

    def as_json(self) -> dict:
        return asdict(self)


def _ident(name: str) -> str:
    """A name as SQL must write it: quoted unless it is a plain lower-case identifier (the
    plan's conditions show names unquoted here, as compared_columns reads them)."""
    if name.startswith("(") or re.fullmatch(r"[a-z_][a-z0-9_$]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _idents(names: list[str]) -> str:
    return ", ".join(_ident(name) for name in names)


# -- indexes -------------------------------------------------------------------------------------


def _leading_columns(indexes: list[dict] | None, table: str) -> set[str]:
    """Columns that lead a (non-partial) index of ``table``."""
    return {
        index["keys"][0].strip('"')
        for index in indexes or []
        if index["table"] == table and index["keys"] and not index["partial"]
    }


def _expression_indexed(indexes: list[dict] | None, table: str, condition: str) -> bool:
    squeezed = re.sub(r"[\s()]", "", condition)
    return any(
        re.sub(r"[\s()]", "", key) in squeezed
        for index in indexes or []
        if index["table"] == table
        for key in index["keys"]
        if "(" in key
    )


# -- the findings --------------------------------------------------------------------------------


def _filter_of(raw: dict) -> str:
    return raw.get("Filter", "")


def _removes_most(node: plans.PlanNode) -> bool:
    read = node.total_rows + node.rows_removed
    return node.rows_removed >= MIN_REMOVED and read and node.rows_removed / read >= MOST


def _percent(part: float, whole: float) -> str:
    return f"{part / whole * 100:.1f}%" if whole else "all"


def _function_on_index(node, raw, indexes) -> Finding | None:
    condition = _filter_of(raw)
    if indexes is None or not node.relation or not condition or not _removes_most(node):
        return None
    leading = _leading_columns(indexes, node.relation)
    hits = [(col, expr) for col, expr in wrapped_columns(condition) if col in leading]
    if not hits or _expression_indexed(indexes, node.relation, condition):
        return None
    column, expression = hits[0]
    return Finding(
        kind="function_on_index",
        node_id=node.id,
        node=node.label,
        title=f"The index on {column} cannot be used: the filter wraps it in {expression}",
        detail=(
            f"{node.label} reads {node.rows_read:,} rows and its filter removes "
            f"{node.rows_removed:,} of them. An index on {column} orders the bare column, "
            f"not {expression}, so PostgreSQL has to compute it for every row."
        ),
        suggestion=_unwrap_suggestion(column, expression),
        sql=""
        if expression.endswith("::date")
        else f"CREATE INDEX ON {_ident(node.relation)} (({expression}));",
        cost_ms=node.inclusive_ms,
    )


def _unwrap_suggestion(column: str, expression: str) -> str:
    if expression.endswith("::date"):
        return (
            f"Compare the bare column with a range instead of a cast to date: "
            f"{column} >= '2026-03-01' AND {column} < '2026-03-02' uses the index on {column}."
        )
    return (
        f"Compare the bare column: move the cast or function to the other side, so that "
        f"{column} is compared with a value of its own type. Or, if you need {expression}, "
        "index the expression itself (only immutable expressions can be indexed):"
    )


def _index_reads_too_much(node, raw, indexes) -> Finding | None:
    if node.node_type not in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"):
        return None
    returned = node.total_rows
    if node.rows_removed < MIN_REMOVED or node.rows_removed < FAR_MORE * max(returned, 1):
        return None
    rechecked = raw.get("Rows Removed by Index Recheck", 0) >= raw.get("Rows Removed by Filter", 0)
    reach = raw.get("Index Cond") or raw.get("Recheck Cond") or _child_index_cond(raw)
    if rechecked:
        # A BRIN index, or a GIN or GiST recheck, is lossy by design: only a bitmap that
        # became lossy for want of work_mem is worth advice.
        if not raw.get("Lossy Heap Blocks") or _method_below(raw, indexes) == "brin":
            return None
        suggestion = (
            "The bitmap became lossy (whole pages rechecked): it did not fit in work_mem. "
            "Raise work_mem for this query, or make the condition more selective."
        )
        sql = "SET work_mem = '16MB';"
    else:
        if not compared_columns(_filter_of(raw)):
            return None  # nothing in the filter an index could hold
        columns = _index_columns(reach, _filter_of(raw))
        suggestion = (
            "Put the filter's columns into the index, equality columns first, so the index "
            "finds only the rows you keep (a partial index works too when the filter compares "
            "with a constant):"
        )
        sql = f"CREATE INDEX ON {_ident(node.relation)} ({_idents(columns)});"
    return Finding(
        kind="index_reads_too_much",
        node_id=node.id,
        node=node.label,
        title=f"The index scan reads {node.rows_read:,} rows to return {returned:,}",
        detail=(
            f"{node.label} finds rows by {reach or 'its index'} and then throws away "
            f"{node.rows_removed:,} of them ({_percent(node.rows_removed, node.rows_read)})."
        ),
        suggestion=suggestion,
        sql=sql,
        cost_ms=node.inclusive_ms,
    )


def _method_below(raw: dict, indexes) -> str:
    """The access method of the index a bitmap heap scan's bitmap came from, if known."""
    names = {child.get("Index Name") for child in raw.get("Plans", [])}
    methods = {index.get("method") for index in indexes or [] if index["name"] in names}
    return methods.pop() if len(methods) == 1 else ""


def _child_index_cond(raw: dict) -> str:
    for child in raw.get("Plans", []):
        if child.get("Index Cond"):
            return child["Index Cond"]
    return ""


def _index_columns(reach: str, condition: str) -> list[str]:
    """Columns for a better index: those of the filter, then those of the index condition."""
    return _equality_first(compared_columns(condition) + compared_columns(reach))


def _equality_first(compared: list[tuple[str, str]]) -> list[str]:
    """Column names for an index: those compared with = first, then the others."""
    equal = [column for column, operator in compared if operator == "="]
    other = [column for column, operator in compared if operator != "="]
    return list(dict.fromkeys(equal + other))


def _seq_scan_filter(node, raw, indexes) -> Finding | None:
    if node.node_type != "Seq Scan" or not _removes_most(node) or not node.relation:
        return None
    suggestion, sql = _index_for_filter(node.relation, _filter_of(raw), indexes)
    return Finding(
        kind="seq_scan_filter",
        node_id=node.id,
        node=node.label,
        title=f"A sequential scan keeps {node.total_rows:,} of {node.rows_read:,} rows",
        detail=(
            f"{node.label} reads the whole table and its filter {_filter_of(raw)} removes "
            f"{_percent(node.rows_removed, node.rows_read)} of the rows it reads."
        ),
        suggestion=suggestion,
        sql=sql,
        cost_ms=node.inclusive_ms,
    )


_PATTERNS = {"~~", "!~~", "~~*", "!~~*"}


def _index_for_filter(table: str, condition: str, indexes) -> tuple[str, str]:
    """(what to try, SQL) for a filter that an index could serve."""
    compared = compared_columns(condition)
    plain = _index_columns(
        "", " AND ".join(f"({c} {o} x)" for c, o in compared if o not in _PATTERNS)
    )
    if plain and indexes is not None and plain[0] in _leading_columns(indexes, table):
        suggestion = (
            f"An index on {plain[0]} exists but the planner did not use it: compare the "
            "estimated and actual rows of this node; if they differ, run ANALYZE."
        )
        return suggestion, f"ANALYZE {_ident(table)};"
    wrapped = [(c, e) for c, e in wrapped_columns(condition) if c not in plain]
    if plain:
        suggestion = (
            "An index on the filter's columns (equality columns first) lets PostgreSQL read "
            "only those rows"
        )
        if wrapped:
            # "status = 'paid' AND created_at::date = …": the cast hides the selective part.
            column, expression = wrapped[0]
            plain.append(column)
            suggestion += (
                f", once {column} is compared bare instead of as {expression} (a range such "
                f"as {column} >= … AND {column} < …)"
            )
        return suggestion + ":", f"CREATE INDEX ON {_ident(table)} ({_idents(plain)});"
    for column, operator in compared:
        if operator in ("~~*", "!~~*"):
            suggestion = (
                f"A B-tree index cannot serve ILIKE. Compare lower({column}) = lower('…') "
                "instead, with an index on that expression:"
            )
            return suggestion, f"CREATE INDEX ON {_ident(table)} ((lower({_ident(column)})));"
        if operator in ("~~", "!~~"):
            suggestion = (
                "A B-tree index serves LIKE only for a pattern that starts with fixed text, "
                "and then only with text_pattern_ops (or the C collation):"
            )
            return (
                suggestion,
                f"CREATE INDEX ON {_ident(table)} ({_ident(column)} text_pattern_ops);",
            )
    suggestion = (
        "An index on exactly what the filter compares (an expression index on the same "
        "expression, or a GIN index for containment with @>) lets PostgreSQL read only "
        "those rows."
    )
    return suggestion, ""


def _spill(node, raw, indexes) -> Finding | None:
    used_kb = _spilled_kb(raw)
    if used_kb is None:
        return None
    megabytes = max(8, 2 ** math.ceil(math.log2(max(used_kb * 3 / 1024, 1))))
    suggestion = (
        f"Give the query more memory: work_mem is per sort or hash, so raise it for this "
        f"query or role, not for the whole server (about 3× the {used_kb:,} kB written is "
        "a fair first guess)."
    )
    sql = f"SET work_mem = '{megabytes}MB';"
    keys = raw.get("Sort Key") or []
    if node.node_type in ("Sort", "Incremental Sort") and keys and _plain_keys(keys):
        table = _scanned_table(node)
        if table:
            columns = ", ".join(key.split(".")[-1] for key in keys)
            suggestion += (
                f" Or let an index deliver the order (best when you only need the first "
                f"rows, with LIMIT): CREATE INDEX ON {_ident(table)} ({columns});"
            )
    return Finding(
        kind="spill",
        node_id=node.id,
        node=node.label,
        title=f"The {node.node_type.lower()} spilled {used_kb:,} kB to disk",
        detail=(
            f"{node.label} did not fit in work_mem and wrote to temporary files, which is "
            "much slower than working in memory."
        ),
        suggestion=suggestion,
        sql=sql,
        cost_ms=node.exclusive_ms,
    )


def _spilled_kb(raw: dict) -> int | None:
    return plans.spilled_kb(raw)


def _plain_keys(keys: list[str]) -> bool:
    return all(re.fullmatch(r"(?:\w+\.)?\w+(?: DESC)?", key) for key in keys)


def _scanned_table(node: plans.PlanNode) -> str:
    """The table a single-input node reads, when its input is one scan."""
    while len(node.children) == 1:
        node = node.children[0]
    return node.relation if node.node_type in plans.SCAN_TYPES else ""


def _inner_scan(node: plans.PlanNode) -> tuple[plans.PlanNode, plans.PlanNode] | None:
    """(inner child, the scan it repeats) of a nested loop, through single-input nodes."""
    inner = [child for child in node.children if child.relationship == "Inner"]
    if not inner:
        return None
    scan = inner[0]
    while scan.node_type not in REPEATED_SCANS and len(scan.children) == 1:
        scan = scan.children[0]
    # A function or VALUES list per outer row (LATERAL unnest(…)) has no better way to run.
    return (inner[0], scan) if scan.node_type in REPEATED_SCANS else None


def _nested_loop(node, raw, indexes, total_ms: float = 0.0) -> Finding | None:
    if node.node_type != "Nested Loop":
        return None
    found = _inner_scan(node)
    if found is None:
        return None
    inner, scan = found
    enough = SEQ_LOOPS if scan.node_type == "Seq Scan" else MANY_LOOPS
    if inner.loops < enough or inner.inclusive_ms < NESTED_SHARE * total_ms:
        return None
    if scan.node_type == "Seq Scan":
        columns = [column for column, _ in compared_columns(_filter_of_node(scan))]
        suggestion = (
            f"Every loop reads all of {scan.relation}. An index on the join columns lets each "
            "loop look up only its rows (or, with the right estimates, the planner may pick a "
            "hash join instead):"
        )
        sql = f"CREATE INDEX ON {_ident(scan.relation)} ({_idents(columns)});" if columns else ""
    else:
        suggestion = (
            f"Each loop is cheap, but {inner.loops:,} of them add up. If the outer side's "
            "estimate is far off, run ANALYZE; otherwise one pass over the data (a join that "
            "can hash, or a window function or DISTINCT ON instead of a LATERAL top-N) may be "
            "faster. Compare with the nested loop turned off, in this session only:"
        )
        sql = "SET enable_nestloop = off;"
    return Finding(
        kind="nested_loop",
        node_id=node.id,
        node=node.label,
        title=f"The nested loop ran {scan.label} {inner.loops:,} times",
        detail=(
            f"The inner side of {node.label} ran once per outer row: {inner.loops:,} loops "
            f"took {inner.inclusive_ms:,.2f} ms in all."
        ),
        suggestion=suggestion,
        sql=sql,
        cost_ms=inner.inclusive_ms,
    )


def _filter_of_node(node: plans.PlanNode) -> str:
    return " ".join(value for key, value in node.detail if key in ("Filter", "Join Filter"))


def _statistics_name(table: str, sides: list[str]) -> str:
    """A name for the statistics object (PostgreSQL 15 and older require one): the table and
    the words of what it covers, e.g. users_country_score_stats."""
    words = re.findall(r"[a-z_][a-z0-9_]*", " ".join(sides).lower())
    return _ident("_".join([table, *words, "stats"])[:63])


def _misestimate(node, parent, stops_early: bool, under_join: bool) -> Finding | None:
    if not _misestimate_counts(node, stops_early, under_join):
        return None
    below_early = stops_early or _stops_children_early(node)
    below_join = under_join or node.node_type in JOINS
    if any(_flagged(child, below_early, below_join) for child in node.children):
        return None  # not the lowest node where the estimate goes wrong
    table = node.relation
    sides = left_sides(_filter_of_node(node))
    if table and len(sides) >= 2:
        name = _statistics_name(table, sides)
        sql = f"CREATE STATISTICS {name} ON {_idents(sides)} FROM {_ident(table)};"
        more = (
            "if it stays off, the conditions probably depend on each other, which the "
            "planner assumes they do not; extended statistics tell it:"
        )
    elif table and sides and sides[0].startswith("("):
        name = _statistics_name(table, sides[:1])
        sql = f"CREATE STATISTICS {name} ON {sides[0]} FROM {_ident(table)};"
        more = (
            f"the planner keeps no statistics on an expression such as {sides[0]} and guesses; "
            "expression statistics give it real ones:"
        )
    elif table and sides:
        sql = f"ALTER TABLE {_ident(table)} ALTER COLUMN {_ident(sides[0])} SET STATISTICS 1000;"
        more = "for a skewed column raise its statistics target, then ANALYZE again:"
    elif table:
        sql, more = "", "then compare the estimate again."
    else:
        sql, more = "", "check the estimates of the nodes below it."
    direction = "too low" if node.underestimated else "too high"
    return Finding(
        kind="misestimate",
        node_id=node.id,
        node=node.label,
        title=f"The row estimate is {direction} by ×{node.misestimate:,.0f}",
        detail=(
            f"Estimated {node.plan_rows:,.0f} rows per loop, got {node.actual_rows:,.0f}. The "
            "plan above this node was chosen for the estimated number."
        ),
        suggestion=f"Run ANALYZE{' ' + table if table else ''} so the statistics are fresh; {more}",
        sql=sql,
        cost_ms=(parent or node).inclusive_ms,
    )


def _misestimate_counts(node: plans.PlanNode, stops_early: bool, under_join: bool) -> bool:
    """Whether the node's estimate is off in a way worth a finding: too low by 10× (more rows
    than planned for is what makes plans slow), or too high by 10× where a join above chose
    its method by it and the node was not stopped early."""
    if node.node_type not in ESTIMATED_FROM_STATISTICS or not node.misestimate_flagged:
        return False
    if node.underestimated:
        return node.actual_rows * max(node.loops, 1) >= MIN_MISESTIMATE_ROWS
    if stops_early or not under_join:
        return False
    return node.plan_rows * max(node.loops, 1) >= MIN_MISESTIMATE_ROWS


def _flagged(node: plans.PlanNode, stops_early: bool, under_join: bool) -> bool:
    if _misestimate_counts(node, stops_early, under_join):
        return True
    below_early = stops_early or _stops_children_early(node)
    below_join = under_join or node.node_type in JOINS
    return any(_flagged(child, below_early, below_join) for child in node.children)


def _stops_children_early(node: plans.PlanNode) -> bool:
    join_type = dict(node.detail).get("Join Type", "")
    return node.node_type in ("Limit", "Merge Join") or join_type in ("Semi", "Anti")


# -- putting it together -------------------------------------------------------------------------


def _pairs(raw: dict, node: plans.PlanNode, parent, stops_early: bool, under_join: bool):
    """(node, its raw JSON, its parent, whether it may have been stopped early, whether a join
    is above it), in plan order (the order plans.parse numbers nodes in)."""
    early = stops_early or node.relationship in ("SubPlan", "InitPlan")
    yield node, raw, parent, early, under_join
    below = early or _stops_children_early(node)
    joined = under_join or node.node_type in JOINS
    for child_raw, child in zip(raw.get("Plans", []), node.children, strict=True):
        yield from _pairs(child_raw, child, node, below, joined)


def advise(explained: Any, indexes: list[dict] | None = None) -> list[Finding]:
    """At most MAX_FINDINGS findings about a plan, costliest first, one per node.

    ``explained`` is EXPLAIN's JSON (as ``plans.parse`` takes it); ``indexes`` the learner's
    indexes as ``runner.explain`` reads them (``{"table", "name", "method", "partial",
    "keys"}``), or
    None when unknown (then casts and functions on indexed columns are not reported)."""
    if isinstance(explained, str):
        import json

        explained = json.loads(explained)
    top = explained[0] if isinstance(explained, list) else explained
    plan = plans.parse(top)
    total = plan.total_ms
    findings: list[Finding] = []
    covered: set[int] = set()  # scans a nested loop's finding already speaks for
    for node, raw, parent, early, joined in _pairs(top["Plan"], plan.root, None, False, False):
        if node.never_executed or node.id in covered:
            continue
        for found in (
            _function_on_index(node, raw, indexes),
            _index_reads_too_much(node, raw, indexes),
            _seq_scan_filter(node, raw, indexes),
            _spill(node, raw, indexes),
            _nested_loop(node, raw, indexes, total),
            _misestimate(node, parent, early, joined),
        ):
            if found is not None:
                findings.append(found)
                if found.kind == "nested_loop":
                    covered.add(_inner_scan(node)[1].id)
                break
    findings.sort(key=lambda finding: finding.cost_ms, reverse=True)
    return findings[:MAX_FINDINGS]
