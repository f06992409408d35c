from __future__ import annotations

import time

import pytest
from django.test import override_settings

from sandbox.models import Sandbox
from sandbox.tests.conftest import api, run_json


def test_it_runs_sql_in_the_lessons_fixture(client, shop_lesson):
    body = run_json(client, shop_lesson, "SELECT id, name, price, note FROM items WHERE id <= 10")
    assert body["ok"] is True and body["error"] is None
    result = body["results"][0]
    assert result["columns"] == ["id", "name", "price", "note"]
    assert result["types"] == ["int4", "text", "numeric(10,2)", "text"]
    assert result["rows"][0] == [1, "item 1", "1.50", "n1"]
    assert result["rows"][9][3] is None
    assert result["rowcount"] == 10 and result["truncated"] is False
    assert result["statement"].startswith("SELECT id")
    assert isinstance(result["elapsed_ms"], float)


def test_it_answers_values_in_json_safe_forms(client, empty_lesson):
    body = run_json(
        client,
        empty_lesson,
        "SELECT true AS b, 2::int8 AS i, 1.5::float8 AS f, 'NaN'::float8 AS nan, "
        "'2024-01-02'::date AS d, ARRAY[1, 2] AS a, '{\"k\": 1}'::jsonb AS j, NULL AS n",
    )
    assert body["results"][0]["rows"] == [
        [True, 2, 1.5, "NaN", "2024-01-02", "{1,2}", '{"k": 1}', None]
    ]


def test_it_keeps_state_between_runs(client, shop_lesson):
    run_json(client, shop_lesson, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('hi')")
    body = run_json(client, shop_lesson, "SELECT body FROM notes")
    assert body["results"][0]["rows"] == [["hi"]]
    assert body["results"][0]["rowcount"] == 1


def test_it_reports_a_failing_statement_with_the_results_before_it(client, shop_lesson):
    sql = "SELECT 1 AS one;\nSELECT nope FROM items"
    body = run_json(client, shop_lesson, sql)
    assert body["ok"] is False
    assert len(body["results"]) == 1
    error = body["error"]
    assert error["sqlstate"] == "42703"
    assert error["statement_index"] == 1
    assert sql[error["position"] - 1 :].startswith("nope")


@pytest.mark.parametrize("sql", ["", "   \n", "-- only a comment"])
def test_it_says_what_to_do_when_there_is_nothing_to_run(client, shop_lesson, sql):
    body = run_json(client, shop_lesson, sql)
    assert body["ok"] is False
    assert body["error"]["sqlstate"] == "42601"  # the input's problem, not a privilege's
    assert body["error"]["message"].startswith("There is no SQL statement to run: write one")


def test_it_counts_affected_rows(client, shop_lesson):
    body = run_json(client, shop_lesson, "UPDATE items SET price = 1 WHERE id <= 3")
    assert body["results"][0]["rowcount"] == 3
    assert body["results"][0]["columns"] == []


def test_it_rolls_back_a_transaction_left_open_and_says_so(client, shop_lesson):
    body = run_json(client, shop_lesson, "BEGIN; DELETE FROM items")
    assert body["ok"] is True
    assert any("rolled back" in notice for notice in body["notices"])
    assert run_json(client, shop_lesson, "SELECT count(*) FROM items")["results"][0]["rows"] == [
        [2000]
    ]


def test_it_answers_400_for_bad_requests(client, shop_lesson, reading_lesson):
    assert api(client, "run", "nope/nothing", "SELECT 1").status_code == 400
    assert api(client, "run", reading_lesson, "SELECT 1").json()["error"].endswith("no sandbox.")
    assert api(client, "run", shop_lesson).status_code == 400
    response = client.post("/api/sandbox/run", "{", content_type="application/json")
    assert response.status_code == 400 and "JSON" in response.json()["error"]
    assert client.get("/api/sandbox/run").status_code == 405


def test_it_needs_the_csrf_token_like_the_htmx_ui(shop_lesson):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    assert api(client, "run", shop_lesson, "SELECT 1").status_code == 403
    client.get(f"/sandbox/{shop_lesson.ref}/")
    token = client.cookies["csrftoken"].value
    response = api(client, "run", shop_lesson, "SELECT 1", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200


def test_it_limits_runs_per_minute_per_learner(client, other_client, shop_lesson, settings):
    settings.SANDBOX_RUNS_PER_MINUTE = 2
    assert api(client, "run", shop_lesson, "SELECT 1").status_code == 200
    assert api(client, "run", shop_lesson, "SELECT 1").status_code == 200
    response = api(client, "run", shop_lesson, "SELECT 1")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "Runs per minute limit" in response.json()["error"]
    assert api(other_client, "run", shop_lesson, "SELECT 1").status_code == 200


def test_it_answers_429_when_the_servers_run_queue_is_full(client, shop_lesson, settings):
    settings.SANDBOX_CONCURRENT_RUNS = 0
    settings.SANDBOX_QUEUE_LENGTH = 0
    response = api(client, "run", shop_lesson, "SELECT 1")
    assert response.status_code == 429
    assert response["Retry-After"] == "2"
    assert "Concurrent runs limit" in response.json()["error"]


def test_it_waits_in_the_queue_then_gives_up_with_429(client, shop_lesson, settings):
    settings.SANDBOX_CONCURRENT_RUNS = 0
    settings.SANDBOX_QUEUE_WAIT_MS = 50
    response = api(client, "run", shop_lesson, "SELECT 1")
    assert response.status_code == 429
    assert "none finished in time" in response.json()["error"]


def test_it_says_sandbox_unavailable_when_its_server_is_down(client, shop_lesson):
    with override_settings(SANDBOX_DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing"):
        response = api(client, "run", shop_lesson, "SELECT 1")
    assert response.status_code == 503
    assert response.json()["error"].startswith("Sandbox unavailable")


def test_it_keys_sandboxes_by_learner_and_lesson(client, other_client, shop_lesson, empty_lesson):
    run_json(client, shop_lesson, "SELECT 1")
    run_json(client, empty_lesson, "SELECT 1")
    run_json(other_client, shop_lesson, "SELECT 1")
    owners = Sandbox.objects.values_list("learner__user__username", "lesson__slug")
    assert sorted(owners, key=str) == [("bob", "indexes"), (None, "empty"), (None, "indexes")]
    # The visitor's two sandboxes are one (visitor) Learner's.
    assert len(set(Sandbox.objects.filter(learner__user=None).values_list("learner"))) == 1
    assert len(set(Sandbox.objects.values_list("name", flat=True))) == 3


@pytest.mark.parametrize("sql", ["SELECT 1;" * 25, "SELECT " + "1 + " * 2000 + "1"])
def test_it_names_the_statement_and_length_limits(client, shop_lesson, sql):
    body = run_json(client, shop_lesson, sql)
    assert body["ok"] is False
    assert "limit" in body["error"]["message"]


def test_it_keeps_a_visitors_sandbox_after_they_log_in(client, learner, shop_lesson):
    run_json(client, shop_lesson, "CREATE TABLE drafts AS SELECT 'before login' AS note")
    assert client.login(username="ada", password="correct-horse-42")
    body = run_json(client, shop_lesson, "SELECT note FROM drafts")
    assert body["results"][0]["rows"] == [["before login"]]
    assert Sandbox.objects.get().learner.user == learner


def test_a_process_refuses_sandbox_requests_while_its_share_of_threads_runs_long(
    client, shop_lesson, settings
):
    # While SANDBOX_REQUESTS_PER_PROCESS requests have run longer than SANDBOX_SLOW_REQUEST_MS,
    # the API answers at once instead of taking a thread that page views need; the learner is
    # told to try again, and can once a long one has finished. Quick ones are not counted.
    from sandbox.views import _share

    settings.SANDBOX_REQUESTS_PER_PROCESS = 1
    # A second: the first request of a test process took 140 ms to reach the view (loading
    # the URLconf), long enough to make "just started" long at 100 ms.
    settings.SANDBOX_SLOW_REQUEST_MS = 1000
    with _share.taken():  # another learner's run, just started: not long yet
        assert api(client, "run", shop_lesson, "SELECT 1").status_code == 200
        time.sleep(1.05)  # now it is
        response = api(client, "run", shop_lesson, "SELECT 1")
        assert response.status_code == 429
        assert response["Retry-After"] == "1"
        assert response.json()["error"].startswith("Sandbox busy")
    assert api(client, "run", shop_lesson, "SELECT 1").status_code == 200
