"""The Explain answer carries the plan's advice (JSON) and shows it under the plan (htmx), with
each node's one-line explanation on hover or focus."""

from __future__ import annotations

from sandbox.tests.conftest import api

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
