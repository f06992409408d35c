from __future__ import annotations

from sandbox.tests.conftest import api, run_json


def test_it_explains_in_json_and_text(client, shop_lesson):
    body = api(client, "explain", shop_lesson, "SELECT * FROM items WHERE id = 5").json()
    assert body["ok"] is True
    assert body["plan"][0]["Plan"]["Node Type"] == "Index Scan"
    assert "Execution Time" in body["text"] and "Buffers" in body["text"]
    assert body["elapsed_ms"] > 0


def test_it_shows_the_plan_change_after_create_index(client, shop_lesson):
    query = "SELECT * FROM items WHERE name = 'item 7'"
    assert "Seq Scan" in api(client, "explain", shop_lesson, query).json()["text"]
    run_json(client, shop_lesson, "CREATE INDEX ON items (name); ANALYZE items")
    assert "Index Scan" in api(client, "explain", shop_lesson, query).json()["text"]


def test_it_never_changes_the_sandbox_when_explaining_a_delete(client, shop_lesson):
    body = api(client, "explain", shop_lesson, "DELETE FROM items").json()
    assert body["ok"] is True and "Delete on items" in body["text"]
    count = run_json(client, shop_lesson, "SELECT count(*) FROM items")["results"][0]["rows"]
    assert count == [[2000]]


def test_it_explains_one_statement_only(client, shop_lesson):
    body = api(client, "explain", shop_lesson, "SELECT 1; SELECT 2").json()
    assert body["ok"] is False and "exactly one statement" in body["error"]["message"]
    body = api(client, "explain", shop_lesson, "SET work_mem = '16MB'; SELECT 2").json()
    assert body["ok"] is False and "a SET lasts only for the run" in body["error"]["message"]
    assert "EXPLAIN (ANALYZE)" in body["error"]["message"]
    body = api(client, "explain", shop_lesson, "CREATE TABLE t (a int)").json()
    assert body["ok"] is False and "plan to explain" in body["error"]["message"]


def test_it_marks_an_error_position_in_the_explained_sql(client, shop_lesson):
    sql = "SELECT missing FROM items"
    body = api(client, "explain", shop_lesson, sql).json()
    assert body["ok"] is False
    assert sql[body["error"]["position"] - 1 :].startswith("missing")
