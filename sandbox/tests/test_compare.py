"""The plan view of Explain, kept plans, and GET /sandbox/plans/compare."""

from __future__ import annotations

from sandbox.models import PlanRecord
from sandbox.tests.conftest import api, run_json

QUERY = "SELECT * FROM items WHERE name = 'item 7'"


def explain_html(client, lesson, sql: str) -> str:
    response = api(client, "explain", lesson, sql, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def test_it_draws_the_plan_as_a_tree_with_the_text_form_a_click_away(client, shop_lesson):
    html = explain_html(client, shop_lesson, QUERY)
    assert 'class="plan-tree"' in html and "plan-costliest" in html
    assert "<strong>Seq Scan</strong>" in html and "2000</strong> <span" in html
    assert "Text form (as psql prints it)" in html and "Seq Scan on items" in html
    assert "Own time" in html and "Shared buffers" in html


def test_it_compares_two_kept_plans_before_and_after_an_index(client, shop_lesson):
    body = api(client, "explain", shop_lesson, QUERY).json()
    before = body["plan_id"]
    run_json(client, shop_lesson, "CREATE INDEX items_name_idx ON items (name); ANALYZE items")
    html = explain_html(client, shop_lesson, QUERY)
    assert "Before and after." in html  # two plans kept: the picker appears
    after = PlanRecord.objects.order_by("-pk").first().pk
    answer = client.get(f"/sandbox/plans/compare?before={before}&after={after}").json()
    assert answer["removed"] == ["Seq Scan on items"]
    assert answer["added"] == ["Index Scan using items_name_idx on items"]
    assert answer["before_rows_read"] == 2000 and answer["after_rows_read"] == 1
    html = client.get(
        f"/sandbox/plans/compare?before={before}&after={after}", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'class="plan-swap"' in html and "Index Scan using items_name_idx on items" in html
    assert html.count('class="plan-tree"') == 2


def test_it_keeps_the_last_ten_plans_per_learner_and_lesson(client, shop_lesson):
    for number in range(12):
        api(client, "explain", shop_lesson, f"SELECT {number}")
    kept = PlanRecord.objects.order_by("created_at")
    assert kept.count() == 10 and kept.first().sql == "SELECT 2"


def test_it_does_not_compare_another_learners_plans(client, other_client, shop_lesson):
    mine = api(client, "explain", shop_lesson, QUERY).json()["plan_id"]
    response = other_client.get(f"/sandbox/plans/compare?before={mine}&after={mine}")
    assert response.status_code == 400
