"""The Explain answer carries the plan's advice (JSON) and shows it under the plan (htmx), with
each node's one-line explanation on hover or focus."""

from __future__ import annotations

from sandbox.tests.conftest import api, run_json

QUERY = "SELECT * FROM items WHERE name = 'item 7'"


def test_it_answers_the_advice_in_json(client, shop_lesson):
    body = api(client, "explain", shop_lesson, QUERY).json()
    assert [(f["kind"], f["node"]) for f in body["advice"]] == [
        ("seq_scan_filter", "Seq Scan on items")
    ]
    assert body["advice"][0]["sql"] == "CREATE INDEX ON items (name);"


def test_it_shows_the_advice_under_the_plan(client, shop_lesson):
    html = api(client, "explain", shop_lesson, QUERY, HTTP_HX_REQUEST="true").content.decode()
    assert "What to try" in html
    assert "A sequential scan keeps 1 of 2,000 rows" in html
    assert '<code class="plan-try">CREATE INDEX ON items (name);</code>' in html
    assert 'href="#plan-at-0"' in html and 'id="plan-at-0"' in html


def test_it_explains_each_node_type_on_hover_and_focus(client, shop_lesson):
    html = api(client, "explain", shop_lesson, QUERY, HTTP_HX_REQUEST="true").content.decode()
    explanation = "Reads every row of the table and keeps those that pass the filter."
    # The title for the mouse, the focusable node's described-by tooltip for the keyboard.
    assert f'title="{explanation}"' in html
    assert f'<p class="plan-explain">Seq Scan: {explanation}</p>' in html


def test_it_says_when_nothing_stands_out(client, shop_lesson):
    sql = "SELECT * FROM items WHERE id = 5"
    html = api(client, "explain", shop_lesson, sql, HTTP_HX_REQUEST="true").content.decode()
    assert "Nothing stands out" in html
    assert api(client, "explain", shop_lesson, sql).json()["advice"] == []


def test_it_advises_on_every_kind_of_statement_without_failing(client, shop_lesson):
    # Plans with CTEs, InitPlans, SubPlans, set operations, windows, semi joins and writes.
    for sql in (
        "WITH cheap AS MATERIALIZED (SELECT * FROM items WHERE price < 5) "
        "SELECT count(*) FROM cheap c1 JOIN cheap c2 USING (id)",
        "SELECT * FROM items WHERE price > (SELECT avg(price) FROM items)",
        "SELECT id, (SELECT count(*) FROM items i2 WHERE i2.price = i.price) FROM items i "
        "WHERE i.id < 20",
        "SELECT id FROM items WHERE id < 10 UNION SELECT id FROM items WHERE id > 1990",
        "SELECT id, rank() OVER (PARTITION BY price ORDER BY id) FROM items",
        "SELECT * FROM items i WHERE EXISTS (SELECT FROM items j WHERE j.id = i.id + 1)",
        "SELECT * FROM items ORDER BY name LIMIT 5",
        "UPDATE items SET note = 'x' WHERE id % 3 = 0",
        "DELETE FROM items WHERE note IS NULL",
        "INSERT INTO items SELECT id + 5000, name, price, note FROM items",
        "SELECT * FROM generate_series(1, 10) AS g, items WHERE items.id = g",
    ):
        body = api(client, "explain", shop_lesson, sql).json()
        assert body["ok"] is True, (sql, body)
        assert len(body["advice"]) <= 3
        assert all(finding["node"] and finding["title"] for finding in body["advice"])


def test_a_guessed_expression_gets_expression_statistics(client, shop_lesson):
    sql = "SELECT * FROM items WHERE id % 3 = 0"
    advice = api(client, "explain", shop_lesson, sql).json()["advice"]
    assert [(f["kind"], f["sql"]) for f in advice] == [
        ("misestimate", "CREATE STATISTICS items_id_stats ON (id % 3) FROM items;")
    ]
    run_json(client, shop_lesson, advice[0]["sql"] + " ANALYZE items")
    assert api(client, "explain", shop_lesson, sql).json()["advice"] == []


def test_compared_plans_keep_the_advice_they_were_shown_with(client, shop_lesson):
    first = api(client, "explain", shop_lesson, QUERY).json()["plan_id"]
    run_json(client, shop_lesson, "CREATE INDEX ON items (name)")
    second = api(client, "explain", shop_lesson, QUERY).json()["plan_id"]
    html = client.get(
        f"/sandbox/plans/compare?before={first}&after={second}", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert html.count("What to try") == 2
    assert "CREATE INDEX ON items (name);" in html  # under the plan before
    assert "Nothing stands out" in html  # under the plan after
