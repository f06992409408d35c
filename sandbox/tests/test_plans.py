"""Exclusive times from real plans, each checked against a hand calculation on the same JSON."""

from __future__ import annotations

import pytest

from sandbox import plans, roles, runner, servers, statements

pytestmark = pytest.mark.django_db


@pytest.fixture
def explain(db):
    name = servers.new_sandbox_name()
    roles.provision(0, name, (runner_fixture()), [])

    def explained(sql: str, *setup: str) -> tuple[plans.Plan, dict]:
        for text in setup:
            runner.run(0, name, statements.split(text))
        outcome = runner.explain(0, name, statements.split(sql)[0])
        assert outcome.error is None, outcome.error
        return plans.parse(outcome.plan), outcome.plan[0]["Plan"]

    yield explained
    roles.drop(0, [name])


def runner_fixture() -> str:
    from sandbox.tests.conftest import FIXTURES

    return (FIXTURES / "plans.sql").read_text()


def inclusive(raw: dict) -> float:
    return raw["Actual Total Time"] * raw["Actual Loops"]


def own(ms: float) -> float:
    """A hand-computed own time as the plan view shows it: PostgreSQL rounds times to
    microseconds, so a node with almost no time of its own can come out just below zero."""
    return max(0.0, ms)


def kids(raw: dict) -> list[dict]:
    return raw.get("Plans", [])


def assert_adds_up(plan: plans.Plan) -> None:
    # PostgreSQL reports a node's time per loop, rounded to 0.001 ms: multiplied back by its
    # loops, a node run 50 times is off by up to 0.025 ms (a parent's own time, parent minus
    # children, by its own and its children's). Seen: 0.128 against 0.117 for a nested loop.
    slack = max(0.01, 0.001 * sum(node.loops for node in plan.nodes))
    total = sum(node.exclusive_ms for node in plan.nodes)
    assert total == pytest.approx(plan.root.inclusive_ms, abs=slack)


def test_it_times_a_nested_loop_with_an_inner_index_scan_run_once_per_outer_row(explain):
    plan, raw = explain(
        "SELECT * FROM u JOIN LATERAL (SELECT * FROM t WHERE t.id = u.t_id OFFSET 0) s "
        "ON true WHERE u.id <= 50"
    )
    assert raw["Node Type"] == "Nested Loop"
    outer, inner = kids(raw)
    assert inner["Actual Loops"] == 50
    by_id = {node.id: node for node in plan.nodes}
    assert plan.root.exclusive_ms == pytest.approx(
        own(inclusive(raw) - inclusive(outer) - inclusive(inner)), abs=1e-6
    )
    inner_node = by_id[plan.root.children[1].id]
    assert inner_node.loops == 50
    assert inner_node.inclusive_ms == pytest.approx(inner["Actual Total Time"] * 50)
    assert_adds_up(plan)


def test_it_times_a_hash_join(explain):
    plan, raw = explain("SELECT count(*) FROM t JOIN u ON u.t_id = t.id + 0")
    assert raw["Node Type"] == "Aggregate"
    (join,) = kids(raw)
    assert join["Node Type"] == "Hash Join"
    probe, hash_node = kids(join)
    (build,) = kids(hash_node)
    aggregate, hash_join, scan, hashed, hash_scan = plan.nodes
    assert aggregate.exclusive_ms == pytest.approx(own(inclusive(raw) - inclusive(join)))
    assert hash_join.exclusive_ms == pytest.approx(
        own(inclusive(join) - inclusive(probe) - inclusive(hash_node))
    )
    assert hashed.exclusive_ms == pytest.approx(own(inclusive(hash_node) - inclusive(build)))
    assert hash_scan.exclusive_ms == pytest.approx(inclusive(build))
    assert hash_scan.relation in ("u", "t") and scan.node_type == "Seq Scan"
    assert_adds_up(plan)


def test_it_gives_a_materialized_ctes_time_to_the_cte_not_to_the_scans_reading_it(explain):
    plan, raw = explain(
        "WITH c AS MATERIALIZED (SELECT g, count(*) AS n FROM t GROUP BY g) "
        "SELECT * FROM c a JOIN c b ON a.g = b.g"
    )
    # By hand: the CTE (an InitPlan of the top node) ran inside the first CTE Scan that read it.
    cte = next(child for child in kids(raw) if child.get("Subplan Name") == "CTE c")
    others = [child for child in kids(raw) if child is not cte]
    cte_ms = inclusive(cte)
    scans = [node for node in plan.nodes if node.node_type == "CTE Scan"]
    assert len(scans) == 2
    scan_raw_total = sum(node.inclusive_ms for node in scans)
    assert sum(node.exclusive_ms for node in scans) == pytest.approx(
        max(scan_raw_total - cte_ms, 0), abs=0.002
    )
    assert plan.root.exclusive_ms == pytest.approx(
        own(inclusive(raw) - sum(inclusive(child) for child in others)), abs=0.002
    )
    cte_node = next(node for node in plan.nodes if node.subplan_name == "CTE c")
    assert cte_node.inclusive_ms == pytest.approx(cte_ms)
    assert all(node.exclusive_ms >= 0 for node in plan.nodes)
    assert_adds_up(plan)


def test_it_gives_an_initplans_time_to_the_scan_that_uses_its_result(explain):
    plan, raw = explain("SELECT * FROM t WHERE x > (SELECT avg(x) FROM t) ORDER BY x LIMIT 5")
    # PostgreSQL hangs the InitPlan on the Limit, but the Seq Scan's filter runs it.
    assert raw["Node Type"] == "Limit"
    initplan, sort = kids(raw)
    assert initplan["Parent Relationship"] == "InitPlan"
    (scan,) = kids(sort)
    assert "$0" in scan["Filter"] or "InitPlan" in scan["Filter"]
    limit_node, initplan_node, _, sort_node, scan_node = plan.nodes
    assert limit_node.exclusive_ms == pytest.approx(own(inclusive(raw) - inclusive(sort)))
    assert sort_node.exclusive_ms == pytest.approx(own(inclusive(sort) - inclusive(scan)))
    assert scan_node.exclusive_ms == pytest.approx(own(inclusive(scan) - inclusive(initplan)))
    assert initplan_node.inclusive_ms == pytest.approx(inclusive(initplan))
    assert_adds_up(plan)


def test_it_times_a_correlated_subplan_inside_the_node_that_runs_it(explain):
    plan, raw = explain(
        "SELECT u.id, (SELECT t.x FROM t WHERE t.id = u.t_id) FROM u WHERE u.id <= 20"
    )
    subplan = next(child for child in kids(raw) if child["Parent Relationship"] == "SubPlan")
    assert subplan["Actual Loops"] == 20
    assert plan.root.exclusive_ms == pytest.approx(
        own(inclusive(raw) - sum(inclusive(child) for child in kids(raw))), abs=1e-6
    )
    assert_adds_up(plan)


def test_it_counts_nodes_that_never_ran_as_zero(explain):
    plan, raw = explain("SELECT * FROM u JOIN t ON t.id = u.t_id WHERE u.id < 0")
    never = [node for node in plan.nodes if node.never_executed]
    assert never and all(node.inclusive_ms == 0 and node.exclusive_ms == 0 for node in never)
    assert_adds_up(plan)


def test_it_flags_a_large_misestimate_and_the_costliest_node(explain):
    plan, _ = explain("SELECT * FROM t WHERE x = 1 AND g = 1")
    (scan,) = plan.nodes
    # x and g are correlated (both from i), so the planner multiplies selectivities wrongly.
    assert scan.costliest
    assert scan.rows_read == 20000
    assert scan.misestimate == pytest.approx(
        max(scan.actual_rows, 1) / max(scan.plan_rows, 1)
        if scan.actual_rows > scan.plan_rows
        else max(scan.plan_rows, 1) / max(scan.actual_rows, 1)
    )


def test_it_checks_plans_for_exercises(explain):
    plan, _ = explain("SELECT * FROM t WHERE id = 5")
    assert plans.check(plan, "index_scan_on", "t") is None
    assert plans.check(plan, "uses_index", "t_pkey") is None
    assert plans.check(plan, "no_seq_scan", "t") is None
    assert plans.check(plan, "max_rows_read", 1) is None
    plan, _ = explain("SELECT * FROM t WHERE x = 5")
    assert "Seq Scan" in plans.check(plan, "no_seq_scan", "t")
    assert "through an index" in plans.check(plan, "index_scan_on", "t")
    assert "t_pkey" in plans.check(plan, "uses_index", "t_pkey")
    assert "reads 20000 rows" in plans.check(plan, "max_rows_read", 100)


def test_it_checks_that_no_part_of_a_plan_spills_to_disk(explain, settings):
    settings.SANDBOX_WORK_MEM_KB = 64  # the learner's connection opens with it
    plan, raw = explain("SELECT * FROM t ORDER BY g, x, id")
    assert raw["Node Type"] == "Sort" and raw["Sort Space Type"] == "Disk", raw
    (sort,) = [node for node in plan.nodes if node.node_type == "Sort"]
    assert sort.spilled_kb == raw["Sort Space Used"] > 0
    problem = plans.check(plan, "no_spill", True)
    assert f"Sort wrote {sort.spilled_kb:,} kB" in problem and "work_mem" in problem
    plan, _ = explain("SELECT * FROM t ORDER BY g, x, id LIMIT 10")  # a top-N heapsort
    assert plans.check(plan, "no_spill", True) is None
    plan, _ = explain("SELECT * FROM t WHERE id = 5")
    assert plans.check(plan, "no_spill", True) is None


@pytest.mark.parametrize(
    ("raw", "kb"),
    [
        ({"Node Type": "Sort", "Sort Space Type": "Memory", "Sort Space Used": 900}, None),
        ({"Node Type": "Sort", "Sort Space Type": "Disk", "Sort Space Used": 900}, 900),
        (
            {
                "Node Type": "Sort",
                "Sort Space Type": "Memory",
                "Sort Space Used": 30,
                "Workers": [
                    {"Worker Number": 0, "Sort Space Type": "Disk", "Sort Space Used": 400},
                    {"Worker Number": 1, "Sort Space Type": "Memory", "Sort Space Used": 30},
                ],
            },
            400,
        ),
        (
            {
                "Node Type": "Incremental Sort",
                "Full-sort Groups": {
                    "Group Count": 3,
                    "Sort Space Memory": {"Peak Sort Space Used": 30},
                    "Sort Space Disk": {"Peak Sort Space Used": 512},
                },
            },
            512,
        ),
        ({"Node Type": "Hash", "Hash Batches": 1, "Original Hash Batches": 1}, None),
        ({"Node Type": "Hash", "Hash Batches": 4, "Peak Memory Usage": 100}, 400),
        ({"Node Type": "Aggregate", "HashAgg Batches": 5, "Disk Usage": 1200}, 1200),
        ({"Node Type": "Aggregate", "HashAgg Batches": 1, "Disk Usage": 0}, None),
    ],
)
def test_it_sees_every_kind_of_spill(raw, kb):
    assert plans.spilled_kb(raw) == kb
    plan = plans.parse({"Plan": {**raw, "Actual Loops": 1}})
    assert (plans.check(plan, "no_spill", True) is None) == (kb is None)


def test_it_compares_a_plan_before_and_after_an_index(explain):
    before, _ = explain("SELECT * FROM t WHERE x = 5")
    after, _ = explain("SELECT * FROM t WHERE x = 5", "CREATE INDEX t_x_idx ON t (x); ANALYZE t")
    change = plans.compare(before, after)
    assert change.before_rows_read == 20000 and change.after_rows_read == 200
    assert (
        change.scan_changes == [("Seq Scan on t", "Bitmap Heap Scan on t")]
        or change.scan_changes[0][0] == "Seq Scan on t"
    )


def test_it_indents_deep_nodes_no_further_than_the_plan_view_can():
    assert plans.PlanNode(id=1, depth=3, node_type="Sort").indent == 3
    assert plans.PlanNode(id=2, depth=40, node_type="Seq Scan").indent == plans.PLAN_INDENT_LEVELS
