"""POST /api/sandbox/schema: the learner's own tables and columns, for the editor's completion."""

from __future__ import annotations

import pytest

from sandbox.tests.conftest import api, run_json

pytestmark = pytest.mark.django_db(transaction=True)


def tables_of(client, lesson) -> dict[str, list[str]]:
    response = api(client, "schema", lesson)
    assert response.status_code == 200, response.content
    return {table["name"]: table["columns"] for table in response.json()["tables"]}


def test_it_lists_the_fixture_and_a_table_just_made_with_their_columns(client, shop_lesson):
    assert tables_of(client, shop_lesson)["items"][:2] == ["id", "name"]
    run_json(client, shop_lesson, "CREATE TABLE reading_list (title text, pages int)")
    run_json(client, shop_lesson, "ALTER TABLE reading_list DROP COLUMN pages")
    run_json(client, shop_lesson, "CREATE VIEW short_list AS SELECT title FROM reading_list")
    tables = tables_of(client, shop_lesson)
    assert tables["reading_list"] == ["title"]
    assert tables["short_list"] == ["title"]
    run_json(client, shop_lesson, "DROP VIEW short_list")
    assert "short_list" not in tables_of(client, shop_lesson)


def test_it_shows_only_the_learners_own_schema(client, other_client, shop_lesson):
    run_json(other_client, shop_lesson, "CREATE TABLE bobs_secrets (secret text)")
    tables = tables_of(client, shop_lesson)
    assert "bobs_secrets" not in tables
    assert not any(name.startswith("pg_") for name in tables)
    assert "bobs_secrets" in tables_of(other_client, shop_lesson)


def test_it_answers_bad_requests_and_other_methods_clearly(client, shop_lesson, reading_lesson):
    assert client.get("/api/sandbox/schema").status_code == 405
    response = api(client, "schema", "no-slash")
    assert response.status_code == 400
    assert response.json()["error"] == '"lesson" must be "<track>/<slug>".'
    response = api(client, "schema", reading_lesson)
    assert response.status_code == 400
    assert "has no sandbox" in response.json()["error"]


def test_it_needs_the_csrf_token(shop_lesson):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    assert api(client, "schema", shop_lesson).status_code == 403
