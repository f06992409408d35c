"""Plan advice on real plans: each made by one of the track's own fixtures (content/fixtures),
seeded in a scratch sandbox, explained as the Explain button does, with the finding expected
and no other. Where the advice names something to run, running it makes the finding go."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings as django_settings

from sandbox import plan_advice, plan_conditions, roles, runner, servers, statements

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

CONTENT_FIXTURES = Path(django_settings.BASE_DIR) / "content" / "fixtures"


@pytest.fixture
def explain(settings):
    # Real lessons' data: the tests' tiny temp-file limit would stop the spilled sort.
    settings.SANDBOX_TEMP_FILE_LIMIT_KB = 65536
    settings.SANDBOX_STATEMENT_TIMEOUT_MS = 5000
    settings.SANDBOX_RUN_TIMEOUT_MS = 8000
    made: dict[str, str] = {}

    def explained(fixture: str, sql: str, *setup: str) -> list[plan_advice.Finding]:
        if fixture not in made:
            made[fixture] = servers.new_sandbox_name()
            roles.provision(0, made[fixture], (CONTENT_FIXTURES / fixture).read_text())
        for text in setup:
            outcome = runner.run(0, made[fixture], statements.split(text))
            assert outcome.error is None, outcome.error
        outcome = runner.explain(0, made[fixture], statements.split(sql)[0])
        assert outcome.error is None, outcome.error
        assert outcome.indexes is not None
        return plan_advice.advise(outcome.plan, outcome.indexes)

    return explained


def kinds(findings: list[plan_advice.Finding]) -> list[tuple[str, str]]:
    return [(finding.kind, finding.node) for finding in findings]


# -- the situations the track teaches ------------------------------------------------------------


def test_it_suggests_an_index_for_a_seq_scan_that_throws_rows_away(explain):
    sql = "SELECT id, email FROM users WHERE score = 42"
    findings = explain("btree.sql", sql)
    assert kinds(findings) == [("seq_scan_filter", "Seq Scan on users")]
    assert findings[0].sql == "CREATE INDEX ON users (score);"
    assert "99.9%" in findings[0].detail
    assert explain("btree.sql", sql, findings[0].sql) == []


def test_it_names_the_cast_that_keeps_an_index_out(explain):
    sql = (
        "SELECT status, count(*) AS orders, sum(amount) AS total FROM orders "
        "WHERE customer_id::text = '777' GROUP BY status"
    )
    findings = explain("explain.sql", sql)
    assert kinds(findings) == [("function_on_index", "Seq Scan on orders")]
    assert "(customer_id)::text" in findings[0].title
    assert findings[0].sql == "CREATE INDEX ON orders (((customer_id)::text));"
    # A new expression has no statistics until ANALYZE, which the advice would then ask for.
    assert explain("explain.sql", sql, findings[0].sql, "ANALYZE orders") == []
    fixed = "SELECT status, count(*) FROM orders WHERE customer_id = 777 GROUP BY status"
    assert explain("explain.sql", fixed) == []


def test_it_suggests_a_range_for_a_timestamp_cast_to_date(explain):
    sql = "SELECT count(*) FROM users WHERE created_at::date = date '2026-03-01'"
    findings = explain("btree.sql", sql)
    assert kinds(findings) == [("function_on_index", "Seq Scan on users")]
    assert "created_at >= '2026-03-01' AND created_at < '2026-03-02'" in findings[0].suggestion
    assert findings[0].sql == ""  # a cast of timestamptz to date is not immutable
    ranged = (
        "SELECT count(*) FROM users WHERE created_at >= '2026-03-01' AND created_at < '2026-03-02'"
    )
    assert explain("btree.sql", ranged) == []


def test_it_finds_a_misestimate_and_extended_statistics_fix_it(explain):
    # In this fixture a user's country and score % 10 both follow id % 10.
    sql = (
        "SELECT country, count(*) FROM users WHERE country IN ('DE', 'FR', 'US', 'GB', 'IN') "
        "AND score % 10 IN (0, 7, 4, 1, 8) GROUP BY country"
    )
    findings = explain("btree.sql", sql)
    assert kinds(findings) == [("misestimate", "Seq Scan on users")]
    assert findings[0].title.startswith("The row estimate is too low by ×")
    assert (
        findings[0].sql
        == "CREATE STATISTICS users_country_score_stats ON country, (score % 10) FROM users;"
    )
    assert explain("btree.sql", sql, findings[0].sql, "ANALYZE users") == []


def test_it_finds_a_sort_that_spilled_to_disk(explain):
    findings = explain("btree.sql", "SELECT * FROM users ORDER BY score")
    assert kinds(findings) == [("spill", "Sort")]
    assert findings[0].title.startswith("The sort spilled ")
    assert "CREATE INDEX ON users (score);" in findings[0].suggestion
    assert findings[0].sql.startswith("SET work_mem = '")


def test_it_finds_a_hash_aggregate_that_spilled_to_disk(explain):
    sql = "SELECT customer_id, created_at, count(*) FROM orders GROUP BY 1, 2"
    findings = explain("monitoring.sql", sql)
    assert kinds(findings) == [("spill", "Aggregate")]


def test_it_finds_a_nested_loop_with_many_loops(explain):
    sql = (
        "SELECT c.id, x.amount FROM customers AS c CROSS JOIN LATERAL "
        "(SELECT amount FROM orders AS o WHERE o.customer_id = c.id "
        "ORDER BY created_at DESC LIMIT 1) AS x"
    )
    findings = explain("explain.sql", sql)
    assert kinds(findings) == [("nested_loop", "Nested Loop")]
    assert findings[0].title == "The nested loop ran Bitmap Heap Scan on orders o 10,000 times"


def test_it_finds_an_index_scan_that_reads_far_more_than_it_returns(explain):
    sql = "SELECT * FROM orders WHERE created_at < '2025-03-01' AND status = 'cancelled'"
    findings = explain("explain.sql", sql)
    assert kinds(findings) == [
        ("index_reads_too_much", "Index Scan using orders_created_at_idx on orders")
    ]
    assert findings[0].sql == "CREATE INDEX ON orders (status, created_at);"
    assert explain("explain.sql", sql, findings[0].sql) == []


def test_it_finds_a_bitmap_scan_that_filters_most_rows_away(explain):
    sql = "SELECT * FROM tickets WHERE account_id < 300 AND priority = 1 AND status = 'pending'"
    findings = explain("index_kinds.sql", sql)
    assert kinds(findings) == [("index_reads_too_much", "Bitmap Heap Scan on tickets")]
    assert findings[0].sql == "CREATE INDEX ON tickets (priority, status, account_id);"


def test_it_suggests_an_expression_index_for_ilike(explain):
    sql = "SELECT id FROM tickets WHERE requester_email ILIKE 'user123@example.com'"
    findings = explain("index_kinds.sql", sql)
    assert kinds(findings) == [("seq_scan_filter", "Seq Scan on tickets")]
    assert findings[0].sql == "CREATE INDEX ON tickets ((lower(requester_email)));"
    assert "A B-tree index cannot serve ILIKE" in findings[0].suggestion


def test_it_sees_the_cast_beside_an_unselective_equality(explain):
    sql = "SELECT sum(amount) FROM orders WHERE status = 'paid' AND created_at::date = '2025-03-10'"
    findings = explain("views.sql", sql)
    assert kinds(findings) == [("seq_scan_filter", "Seq Scan on orders")]
    assert findings[0].sql == "CREATE INDEX ON orders (status, created_at);"
    assert "once created_at is compared bare instead of as (created_at)::date" in (
        findings[0].suggestion
    )


def test_it_names_the_scan_a_lateral_join_repeats(explain):
    sql = (
        "SELECT a.id, l.new_balance FROM accounts a JOIN LATERAL (SELECT au.new_balance "
        "FROM accounts_audit au WHERE au.account_id = a.id ORDER BY au.id DESC LIMIT 1) l "
        "ON true"
    )
    findings = explain("triggers.sql", sql)
    assert kinds(findings) == [("nested_loop", "Nested Loop")]  # and not the scan again
    assert "Seq Scan on accounts_audit au" in findings[0].title
    assert findings[0].sql == "CREATE INDEX ON accounts_audit (account_id);"


# -- plans with nothing to say -------------------------------------------------------------------


GOOD_PLANS = [
    ("btree.sql", "SELECT * FROM users WHERE id = 42"),
    ("btree.sql", "SELECT * FROM users LIMIT 10"),  # the estimate is for all rows: not "off"
    ("index_kinds.sql", "SELECT * FROM tickets WHERE lower(requester_email) = 'u7@x.org'"),
    ("index_kinds.sql", "SELECT * FROM tickets WHERE account_id = 42 AND status = 'open'"),
    ("select-where-order-limit.sql", "SELECT * FROM books WHERE genre = 'poetry'"),
    # unnest per row: a nested loop with no better way; group counts are guesses
    ("arrays_ranges.sql", "SELECT tag, count(*) FROM articles, unnest(tags) AS tag GROUP BY tag"),
    # BRIN rechecks whole block ranges by design
    (
        "gin_gist_brin.sql",
        "SELECT count(*), avg(value) FROM readings "
        "WHERE recorded_at >= '2026-02-01 00:00+00' AND recorded_at < '2026-02-02 00:00+00'",
    ),
    (
        "joins.sql",
        "SELECT c.name, count(o.id) FROM customers c "
        "LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.name",
    ),
]


def test_it_says_nothing_about_good_plans(explain):
    # One test, so that each fixture is seeded once.
    for fixture, sql in GOOD_PLANS:
        assert explain(fixture, sql) == [], sql


def test_it_keeps_the_three_costliest_findings_one_per_node(explain):
    sql = (
        "SELECT u.id FROM users AS u JOIN users AS v ON v.score = u.id "
        "WHERE u.country = 'DE' AND u.score % 10 = 0 ORDER BY v.email"
    )
    findings = explain("btree.sql", sql)
    assert 1 <= len(findings) <= plan_advice.MAX_FINDINGS
    assert [finding.cost_ms for finding in findings] == sorted(
        (finding.cost_ms for finding in findings), reverse=True
    )
    assert len({finding.node_id for finding in findings}) == len(findings)


# -- reading conditions --------------------------------------------------------------------------


def test_it_reads_compared_and_wrapped_columns_as_postgresql_prints_them():
    read = plan_conditions.compared_columns
    assert read("((city = 'Lyon'::text) AND (country = 'FR'::text))") == [
        ("city", "="),
        ("country", "="),
    ]
    assert read("(lower(email) = 'a = b'::text)") == []
    assert read("(o.customer_id = c.id)") == [("customer_id", "=")]
    wrapped = plan_conditions.wrapped_columns
    assert wrapped("((customer_id)::text = '777'::text)") == [
        ("customer_id", "(customer_id)::text")
    ]
    assert wrapped("(date_trunc('day'::text, created_at) = now())") == [
        ("created_at", "date_trunc('day'::text, created_at)")
    ]


def test_it_reads_what_each_anded_condition_compares():
    sides = plan_conditions.left_sides
    assert sides("((country = ANY ('{DE,FR}'::text[])) AND ((score % 10) = 3))") == [
        "country",
        "(score % 10)",
    ]
    assert sides("(score = 42)") == ["score"]


def test_without_the_indexes_it_does_not_guess_about_casts(explain):
    plan = {
        "Plan": {
            "Node Type": "Seq Scan",
            "Relation Name": "orders",
            "Alias": "orders",
            "Filter": "((customer_id)::text = '777'::text)",
            "Rows Removed by Filter": 99990,
            "Plan Rows": 500,
            "Actual Rows": 10,
            "Actual Loops": 1,
            "Actual Total Time": 6.5,
        }
    }
    findings = plan_advice.advise([plan], None)
    assert kinds(findings) == [("seq_scan_filter", "Seq Scan on orders")]
    assert findings[0].sql == ""  # no bare column to index


def test_it_counts_the_rows_a_repeated_scan_removes_in_every_loop(explain):
    # PostgreSQL prints "Rows Removed by Filter" per loop: here under 1,000 in each of the 19
    # loops of the subplan, but 19,000 rows read in all.
    sql = (
        "SELECT id, (SELECT count(*) FROM books b2 WHERE b2.published_year = b.published_year) "
        "FROM books b WHERE b.id < 20"
    )
    findings = explain("select-where-order-limit.sql", sql)
    assert kinds(findings) == [("seq_scan_filter", "Seq Scan on books b2")]
    # Per-loop figures are rounded by PostgreSQL, so the total is about 19 × 1,000.
    read = int(findings[0].title.rsplit(" of ", 1)[1].split()[0].replace(",", ""))
    assert 18_950 <= read <= 19_050
    assert findings[0].sql == "CREATE INDEX ON books (published_year);"


def test_it_quotes_names_that_need_it_in_what_it_suggests():
    plan = {
        "Plan": {
            "Node Type": "Seq Scan",
            "Relation Name": "Orders",
            "Alias": "Orders",
            "Filter": '("UnitPrice" = 5)',
            "Rows Removed by Filter": 9990,
            "Plan Rows": 10,
            "Actual Rows": 10,
            "Actual Loops": 1,
            "Actual Total Time": 2.0,
        }
    }
    findings = plan_advice.advise([plan], [])
    assert findings[0].sql == 'CREATE INDEX ON "Orders" ("UnitPrice");'
