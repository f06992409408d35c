"""Query plans made readable: ``EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`` → a tree of nodes with
their own (exclusive) time, misestimates and buffers. Pure functions, no database.

How exclusive time is computed (the part that is easy to get wrong):

- PostgreSQL reports ``Actual Total Time`` per loop, so a node's inclusive time is
  ``Actual Total Time × Actual Loops``. A node that never ran (``Actual Loops`` 0) costs 0.
- Under a ``Gather``/``Gather Merge``, loops count every process (workers and the leader) and the
  times are averages over them; the wall-clock estimate divides by the number of processes.
- A node's exclusive time is its inclusive time minus its children's inclusive times, with two
  exceptions for subplans whose work is counted inside a *different* node:
  - a CTE (an InitPlan named ``CTE x``) runs when a ``CTE Scan`` on it pulls rows, so its time is
    inside those CTE Scans: the CTE Scans give it up (in plan order, each at most what it has),
    and the node the CTE hangs on does not subtract it again;
  - an InitPlan hangs on the top node of its query level but runs where its parameter is first
    used (``$0`` before PostgreSQL 16, ``(InitPlan 1)…`` after), often a scan further down: that
    node gives its time up, and the node it hangs on does not subtract it again.
  SubPlans run inside the node that evaluates them, so that node subtracts them as usual.
- The own times of all nodes add up to the root's inclusive time (exclusive times are clamped at
  0 where rounding in PostgreSQL's figures would make them slightly negative).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MISESTIMATE_FLAG = 10.0  # a factor at least this large is flagged
SCAN_TYPES = {
    "Seq Scan",
    "Index Scan",
    "Index Only Scan",
    "Bitmap Heap Scan",
    "Bitmap Index Scan",
    "Tid Scan",
    "Tid Range Scan",
    "Sample Scan",
    "CTE Scan",
    "Function Scan",
    "Values Scan",
    "Subquery Scan",
    "WorkTable Scan",
}
INDEX_SCAN_TYPES = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}
PLAN_INDENT_LEVELS = 12


@dataclass
class PlanNode:
    """One node of a plan, with what the learner needs to read it."""

    id: int
    depth: int
    node_type: str
    relation: str = ""
    schema: str = ""  # the relation's schema; EXPLAIN reports it with VERBOSE only
    alias: str = ""
    index: str = ""
    relationship: str = ""  # Outer, Inner, InitPlan, SubPlan, Member…
    subplan_name: str = ""
    cte_name: str = ""
    detail: list[tuple[str, str]] = field(default_factory=list)  # conditions, keys, strategy
    plan_rows: float = 0.0  # estimated, per loop
    actual_rows: float = 0.0  # per loop
    loops: int = 0
    rows_removed: int = 0  # by filter, join filter and index recheck, all loops
    startup_cost: float = 0.0
    total_cost: float = 0.0
    inclusive_ms: float = 0.0
    exclusive_ms: float = 0.0
    shared_hit: int = 0
    shared_read: int = 0
    parallel_share: int = 1  # processes the node's time is averaged over
    spilled_kb: int | None = None  # written to disk (a sort, hash, hash aggregate…), or None
    children: list[PlanNode] = field(default_factory=list)
    share: float = 0.0  # exclusive time / root inclusive time, 0..1
    costliest: bool = False

    @property
    def never_executed(self) -> bool:
        return self.loops == 0

    @property
    def indent(self) -> int:
        """The depth the plan view indents the node by (sandbox.css has a rule for each, as
        the Content-Security-Policy allows no style attribute); deeper nodes line up at the last."""
        return min(self.depth, PLAN_INDENT_LEVELS)

    @property
    def label(self) -> str:
        """ "Index Scan using users_pkey on users u", as psql names nodes."""
        text = self.node_type
        if self.index:
            text += f" using {self.index}"
        if self.relation:
            text += f" on {self.relation}"
            if self.alias and self.alias != self.relation:
                text += f" {self.alias}"
        elif self.cte_name:
            text += f" on {self.cte_name}"
            if self.alias and self.alias != self.cte_name:
                text += f" {self.alias}"
        return text

    @property
    def total_rows(self) -> int:
        return round(self.actual_rows * self.loops)

    @property
    def rows_read(self) -> int:
        """Rows a scan node looked at: those it returned and those its filters threw away."""
        if self.node_type not in SCAN_TYPES or self.node_type == "Bitmap Index Scan":
            return 0
        return self.total_rows + self.rows_removed

    @property
    def misestimate(self) -> float:
        """How far the estimate was off, as a factor ≥ 1 (rows per loop, 0 counted as 1)."""
        if self.never_executed:
            return 1.0
        actual, estimated = max(self.actual_rows, 1.0), max(self.plan_rows, 1.0)
        return max(actual, estimated) / min(actual, estimated)

    @property
    def underestimated(self) -> bool:
        return self.actual_rows > self.plan_rows

    @property
    def misestimate_flagged(self) -> bool:
        return self.misestimate >= MISESTIMATE_FLAG

    @property
    def share_percent(self) -> float:
        return round(self.share * 100, 1)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class Plan:
    root: PlanNode
    planning_ms: float
    execution_ms: float
    triggers_ms: float = 0.0

    @property
    def nodes(self) -> list[PlanNode]:
        return list(self.root.walk())

    @property
    def total_ms(self) -> float:
        return self.root.inclusive_ms

    @property
    def rows_read(self) -> int:
        return sum(node.rows_read for node in self.nodes)

    def rows_read_in(self, schema: str) -> int:
        """Rows read by scans of tables and materialized views of ``schema`` (the learner's own):
        not the catalog scans of views such as ``pg_stat_user_tables`` (which read every
        learner's tables) nor the rows CTE, subquery, function or VALUES scans pass along. The
        plan must come from ``EXPLAIN (VERBOSE)``, which names each relation's schema."""
        return sum(node.rows_read for node in self.nodes if node.relation and node.schema == schema)

    @property
    def costliest(self) -> PlanNode:
        return max(self.nodes, key=lambda node: node.exclusive_ms)

    @property
    def node_types(self) -> list[str]:
        return [node.label for node in self.nodes]


# -- parsing -------------------------------------------------------------------------------------

_DETAIL_KEYS = (
    "Strategy",
    "Join Type",
    "Hash Cond",
    "Merge Cond",
    "Index Cond",
    "Recheck Cond",
    "Join Filter",
    "Filter",
    "Sort Key",
    "Group Key",
    "Sort Method",
    "Hash Batches",
    "Peak Memory Usage",
    "Heap Fetches",
    "Workers Launched",
)


def parse(explained: Any) -> Plan:
    """A Plan from EXPLAIN's JSON (the list PostgreSQL returns, its first item, or JSON text)."""
    if isinstance(explained, str):
        import json

        explained = json.loads(explained)
    if isinstance(explained, list):
        explained = explained[0]
    counter = iter(range(1_000_000))
    root = _node(explained["Plan"], 0, counter, 1)
    _exclusive_times(root)
    total = root.inclusive_ms
    costliest = max(root.walk(), key=lambda node: node.exclusive_ms)
    for node in root.walk():
        node.share = node.exclusive_ms / total if total > 0 else 0.0
    if costliest.exclusive_ms > 0:
        costliest.costliest = True
    triggers = sum(trigger.get("Time", 0.0) for trigger in explained.get("Triggers", []))
    return Plan(
        root=root,
        planning_ms=float(explained.get("Planning Time", 0.0)),
        execution_ms=float(explained.get("Execution Time", 0.0)),
        triggers_ms=float(triggers),
    )


def _node(raw: dict, depth: int, counter, parallel_share: int) -> PlanNode:
    loops = int(raw.get("Actual Loops", 0))
    inclusive = float(raw.get("Actual Total Time", 0.0)) * loops / parallel_share
    node = PlanNode(
        id=next(counter),
        depth=depth,
        node_type=raw.get("Node Type", "?"),
        relation=raw.get("Relation Name", ""),
        schema=raw.get("Schema", ""),
        alias=raw.get("Alias", ""),
        index=raw.get("Index Name", ""),
        relationship=raw.get("Parent Relationship", ""),
        subplan_name=raw.get("Subplan Name", ""),
        cte_name=raw.get("CTE Name", ""),
        detail=[(key, _shown(raw[key])) for key in _DETAIL_KEYS if key in raw],
        plan_rows=float(raw.get("Plan Rows", 0)),
        actual_rows=float(raw.get("Actual Rows", 0)),
        loops=loops,
        # PostgreSQL prints these per loop (averaged, like the rows): count every loop.
        rows_removed=round(
            (
                raw.get("Rows Removed by Filter", 0)
                + raw.get("Rows Removed by Join Filter", 0)
                + raw.get("Rows Removed by Index Recheck", 0)
            )
            * max(loops, 1)
        ),
        startup_cost=float(raw.get("Startup Cost", 0.0)),
        total_cost=float(raw.get("Total Cost", 0.0)),
        inclusive_ms=inclusive,
        shared_hit=int(raw.get("Shared Hit Blocks", 0)),
        shared_read=int(raw.get("Shared Read Blocks", 0)),
        parallel_share=parallel_share,
        spilled_kb=spilled_kb(raw),
    )
    if node.node_type in ("Gather", "Gather Merge") and loops:
        # The leader takes part too (parallel_leader_participation, on by default).
        parallel_share = int(raw.get("Workers Launched", 0)) + 1
    node.children = [
        _node(child, depth + 1, counter, parallel_share) for child in raw.get("Plans", [])
    ]
    # Keep the raw texts for finding where an InitPlan's parameter is used.
    node._texts = (
        " ".join(  # type: ignore[attr-defined]
            _shown(value) for key, value in raw.items() if key != "Plans" and isinstance(value, str)
        )
        + " "
        + " ".join(_shown(value) for value in raw.get("Output", []))
    )
    return node


def spilled_kb(raw: dict) -> int | None:
    """How many kB a node wrote to disk because it did not fit in work_mem, or None when it
    worked in memory: a sort on disk (the leader's, a parallel worker's, or a group of an
    incremental sort), a hash join's extra batches, a hash aggregate's, a tuplestore's."""
    found = [_spilled_here(raw)]
    found += [_spilled_here(worker) for worker in raw.get("Workers", []) or []]
    for groups in ("Full-sort Groups", "Pre-sorted Groups"):
        if isinstance(raw.get(groups), dict):
            found.append(_spilled_here(raw[groups]))
    spilled = [kb for kb in found if kb is not None]
    return sum(spilled) if spilled else None


def _spilled_here(raw: dict) -> int | None:
    if raw.get("Sort Space Type") == "Disk":
        return int(raw.get("Sort Space Used", 0))
    if isinstance(raw.get("Sort Space Disk"), dict):  # an incremental sort's groups
        return int(raw["Sort Space Disk"].get("Peak Sort Space Used", 0))
    if raw.get("Hash Batches", 1) > 1 or raw.get("Original Hash Batches", 1) > 1:
        return int(raw.get("Peak Memory Usage", 0)) * int(raw.get("Hash Batches", 1))
    if raw.get("Disk Usage", 0) > 0 or raw.get("HashAgg Batches", 1) > 1:
        return int(raw.get("Disk Usage", 0))
    if raw.get("Storage") == "Disk":
        return int(raw.get("Maximum Storage", 0))
    return None


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _regular(node: PlanNode) -> list[PlanNode]:
    """Children that are not InitPlans (their time is elsewhere or separate)."""
    return [child for child in node.children if child.relationship != "InitPlan"]


def _params_of(initplan: PlanNode) -> list[str]:
    """The names an InitPlan's result is referred to by elsewhere in the plan."""
    name = initplan.subplan_name
    found = re.findall(r"\$\d+", name)  # "InitPlan 1 (returns $0,$1)" up to PostgreSQL 15
    number = re.match(r"InitPlan (\d+)", name)
    if number:  # "(InitPlan 1).col1" from PostgreSQL 16/17 on
        found.append(f"(InitPlan {number.group(1)})")
    return found


def _uses(node: PlanNode, params: list[str]) -> bool:
    texts = node._texts  # type: ignore[attr-defined]
    return any(re.search(re.escape(param) + r"(?!\d)", texts) for param in params)


def _exclusive_times(root: PlanNode) -> None:
    # Start from inclusive minus every child's inclusive time, then move the time of each CTE
    # and InitPlan from the node it hangs on to the nodes that actually ran it.
    for node in root.walk():
        node.exclusive_ms = node.inclusive_ms - sum(child.inclusive_ms for child in node.children)
    ctes = {
        child.subplan_name.removeprefix("CTE "): child
        for node in root.walk()
        for child in node.children
        if child.relationship == "InitPlan" and child.subplan_name.startswith("CTE ")
    }
    owners = {id(child): node for node in root.walk() for child in node.children}
    for name, cte in ctes.items():
        scans = [
            node for node in root.walk() if node.node_type == "CTE Scan" and node.cte_name == name
        ]
        _move(cte, owners[id(cte)], scans)
    for node in root.walk():
        for child in node.children:
            if child.relationship != "InitPlan" or child.subplan_name.startswith("CTE "):
                continue
            params = _params_of(child)
            carriers = [
                other
                for regular in _regular(node)
                for other in regular.walk()
                if params and _uses(other, params)
            ]
            _move(child, node, carriers)
    for node in root.walk():
        node.exclusive_ms = max(node.exclusive_ms, 0.0)


def _move(subplan: PlanNode, owner: PlanNode, carriers: list[PlanNode]) -> None:
    """The subplan's time is inside ``carriers`` (in plan order), not separate from ``owner``'s
    other children: the carriers give it up, and the owner stops subtracting what they took."""
    left = subplan.inclusive_ms
    for carrier in carriers:
        if left <= 0:
            break
        taken = min(left, max(carrier.exclusive_ms, 0.0))
        carrier.exclusive_ms -= taken
        owner.exclusive_ms += taken
        left -= taken


# -- comparing two plans --------------------------------------------------------------------------


@dataclass
class PlanChange:
    before_ms: float
    after_ms: float
    before_rows_read: int
    after_rows_read: int
    removed: list[str]  # node labels only in the first plan
    added: list[str]  # node labels only in the second

    @property
    def speedup(self) -> float | None:
        if self.after_ms <= 0 or self.before_ms <= 0:
            return None
        return self.before_ms / self.after_ms

    @property
    def time_change_percent(self) -> float | None:
        if self.before_ms <= 0:
            return None
        return round((self.after_ms - self.before_ms) / self.before_ms * 100, 1)

    @property
    def scan_changes(self) -> list[tuple[str, str]]:
        """Pairs like ("Seq Scan on users", "Index Scan using users_created_at_idx on users"):
        the same table read a different way."""
        pairs = []
        for old in self.removed:
            table = _table_of(old)
            for new in self.added:
                if table and _table_of(new) == table:
                    pairs.append((old, new))
                    break
        return pairs


def _table_of(label: str) -> str:
    match = re.search(r" on (\S+)", label)
    return match.group(1) if match else ""


def compare(before: Plan, after: Plan) -> PlanChange:
    """What changed between two plans of (usually) the same query."""
    old = before.node_types
    new = after.node_types
    removed = [label for label in old if label not in new]
    added = [label for label in new if label not in old]
    return PlanChange(
        before_ms=before.total_ms,
        after_ms=after.total_ms,
        before_rows_read=before.rows_read,
        after_rows_read=after.rows_read,
        removed=removed,
        added=added,
    )


# -- plan checks (exercises) ----------------------------------------------------------------------


def check(plan: Plan, name: str, value: Any, schema: str | None = None) -> str | None:
    """None when the plan passes the exercise's check, else a message for the learner.

    With ``schema`` (the sandbox's own, and a plan from ``EXPLAIN (VERBOSE)``), ``max_rows_read``
    counts only the rows read from that schema's tables, so that a check does not depend on how
    many other learners' tables the catalog holds; without it, every scan counts."""
    nodes = plan.nodes
    if name == "index_scan_on":
        table = str(value)
        scans = [node for node in nodes if node.relation == table]
        if any(
            node.node_type in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan")
            for node in scans
        ):
            return None
        how = ", ".join(sorted({node.node_type for node in scans})) or "not at all"
        return f"The plan must read {table} through an index, but it reads it by {how}."
    if name == "uses_index":
        if any(node.index == value for node in nodes):
            return None
        used = sorted({node.index for node in nodes if node.index})
        also = f" (it uses {', '.join(used)})" if used else " (it uses no index)"
        return f"The plan must use the index {value}{also}."
    if name == "no_seq_scan":
        if any(node.node_type == "Seq Scan" and node.relation == value for node in nodes):
            return f"The plan reads all of {value} with a Seq Scan; it must not."
        return None
    if name == "no_spill":
        spilled = [node for node in nodes if node.spilled_kb is not None]
        if not spilled or not value:
            return None
        where = "; ".join(f"{node.label} wrote {node.spilled_kb:,} kB" for node in spilled[:3])
        return (
            f"Part of the plan did not fit in work_mem and spilled to disk ({where}); "
            "it must work in memory."
        )
    if name == "max_rows_read":
        if schema is None:
            read, where = plan.rows_read, ""
        else:
            read, where = plan.rows_read_in(schema), " of the lesson's tables"
        if read <= int(value):
            return None
        return f"The plan reads {read} rows{where}; at most {value} are allowed."
    return f"Unknown plan check {name!r}."
