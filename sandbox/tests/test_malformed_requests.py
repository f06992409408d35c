"""Malformed JSON and text PostgreSQL cannot store get a 400 a person can act on, on every
sandbox endpoint, never a 500 (issue #18, items 2 and 9)."""

from __future__ import annotations

import pytest

from sandbox.tests.conftest import run_json

ENDPOINTS = ["run", "explain", "check", "solution"]


def _post(client, endpoint: str, body: str):
    return client.post(f"/api/sandbox/{endpoint}", body, content_type="application/json")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_it_refuses_an_integer_too_long_to_parse(client, shop_lesson, endpoint):
    response = _post(client, endpoint, '{"lesson": "sql/indexes", "sql": ' + "9" * 5000 + "}")
    assert response.status_code == 400
    assert response.json()["error"] == "The body is not valid JSON: a number is too long."


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_it_refuses_json_nested_too_deeply(client, shop_lesson, endpoint):
    response = _post(client, endpoint, "[" * 100_000)
    assert response.status_code == 400
    assert response.json()["error"] == "The body is not valid JSON: it is nested too deeply."


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("field", ["sql", "lesson", "exercise"])
def test_it_refuses_a_lone_surrogate(client, shop_lesson, endpoint, field):
    body = {"lesson": "sql/indexes", "sql": "SELECT 1", "exercise": "x"}
    body[field] = "SELECT '\\ud800'"
    text = ", ".join(f'"{key}": "{value}"' for key, value in body.items())
    response = _post(client, endpoint, "{" + text + "}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith(f'"{field}" contains a lone surrogate (\\ud800)')


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_it_refuses_a_nul_character(client, shop_lesson, endpoint):
    body = '{"lesson": "sql/indexes", "exercise": "x", "sql": "SELECT 1\\u0000; SELECT 2"}'
    response = _post(client, endpoint, body)
    assert response.status_code == 400
    assert response.json()["error"].startswith('"sql" contains a NUL character')


def test_it_refuses_a_nul_character_from_the_htmx_form(client, shop_lesson):
    response = client.post(
        "/api/sandbox/run",
        {"lesson": "sql/indexes", "sql": "SELECT 1\x00; SELECT 2"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 400
    assert "contains a NUL character" in response.content.decode()


def test_it_still_runs_the_same_sql_without_the_nul(client, shop_lesson):
    body = run_json(client, shop_lesson, "SELECT 1; SELECT 2")
    assert [result["rows"] for result in body["results"]] == [[[1]], [[2]]]
