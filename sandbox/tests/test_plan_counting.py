"""max_rows_read counts only what the answer reads from the learner's own tables: the catalog
scans of a view such as pg_stat_user_tables read every learner's tables, so counting them made
a check that passed on a quiet server fail on a busy one."""

from __future__ import annotations

import pytest

from sandbox import grading, plans, roles, runner, servers, statements

pytestmark = pytest.mark.django_db

LESSON = """
CREATE TABLE items (id int PRIMARY KEY, n int);
INSERT INTO items SELECT g, g % 7 FROM generate_series(1, 50) g;
ANALYZE;
"""

# Another learner's sandbox with many tables: each adds rows to pg_class, which the catalog
# subquery below reads in full.
BUSY = "".join(f"CREATE TABLE other_{number} (id int);\n" for number in range(700))

# A real answer whose plan reads the catalog: an InitPlan over pg_class and the user-table
# statistics view (itself pg_class joined to pg_namespace), besides the lesson's own table.
ANSWER = """
SELECT count(*) FROM items
WHERE (SELECT count(*) FROM pg_class) > 0
  AND EXISTS (SELECT 1 FROM pg_stat_user_tables
              WHERE schemaname = current_schema() AND relname = 'items')
"""


@pytest.fixture
def lesson_sandbox(db):
    busy = servers.new_sandbox_name()
    roles.provision(0, busy, BUSY, [])
    name = servers.new_sandbox_name()
    roles.provision(0, name, LESSON, [])
    return name


def grade(name: str, limit: int) -> grading.Verdict:
    answer = grading.parse_answer(ANSWER, [], max_statements=10)
    return grading.grade(
        0, name, answer, answer, [], False, [{"check": "max_rows_read", "value": limit}]
    )


def test_the_catalog_scans_of_other_learners_tables_are_not_counted(lesson_sandbox):
    # The plan really reads more than a thousand catalog rows (the other sandbox's tables)...
    parsed = statements.split(ANSWER)
    ((outcome,),) = runner.run_scratch(0, lesson_sandbox, [""], [parsed], explain_last_of=0)
    plan = plans.parse(outcome.plan)
    catalog = [node for node in plan.nodes if node.relation and node.schema == "pg_catalog"]
    assert catalog, plan.node_types
    assert plan.rows_read > 1000
    # ...and only the 50 rows of the lesson's own table count.
    assert plan.rows_read_in(lesson_sandbox) == 50
    assert grade(lesson_sandbox, 1000).plan_problems == []
    assert grade(lesson_sandbox, 50).passed


def test_the_message_says_what_was_counted(lesson_sandbox):
    verdict = grade(lesson_sandbox, 49)
    assert not verdict.passed
    assert verdict.plan_problems == [
        "The plan reads 50 rows of the lesson's tables; at most 49 are allowed."
    ]


def test_the_sandbox_runs_in_utc_whatever_the_server_says(db):
    """content/README.md promises UTC; a server (or role) set to another zone must not show."""
    from psycopg import sql

    name = servers.new_sandbox_name()
    roles.provision(0, name, "CREATE TABLE seeded AS SELECT current_setting('TimeZone') AS tz;")
    with servers.provisioning(0).pool.connection() as conn:
        conn.execute(
            sql.SQL("ALTER ROLE {} SET TimeZone = 'Asia/Tokyo'").format(sql.Identifier(name))
        )
    outcome = runner.run(
        0, name, statements.split("SELECT tz, current_setting('TimeZone') FROM seeded")
    )
    assert outcome.error is None, outcome.error
    assert outcome.results[0].rows == [["UTC", "UTC"]]
