"""The fast run path: reused learner connections, one app-database round trip to admit a run,
warm sandboxes claimed with one statement, parses cached. Speed must never cost isolation."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sandbox import connections, statements
from sandbox.models import Sandbox
from sandbox.models.admission import _admission_statement
from sandbox.tests.conftest import api, learner_id, run_json

pytestmark = pytest.mark.django_db


def backend_pid(client, lesson) -> int:
    return run_json(client, lesson, "SELECT pg_backend_pid()")["results"][0]["rows"][0][0]


def test_it_reuses_a_learners_connection_between_runs(client, shop_lesson):
    assert backend_pid(client, shop_lesson) == backend_pid(client, shop_lesson)


def test_it_never_gives_one_learners_connection_to_another(client, other_client, shop_lesson):
    mine = backend_pid(client, shop_lesson)
    theirs = backend_pid(other_client, shop_lesson)
    assert mine != theirs
    answer = run_json(other_client, shop_lesson, "SELECT current_user, current_schema()")
    user, schema = answer["results"][0]["rows"][0]
    sandbox = Sandbox.objects.get(learner__user__isnull=False, lesson=shop_lesson)
    assert user == schema == sandbox.name


def test_a_learners_set_lasts_one_run(client, shop_lesson):
    answer = run_json(client, shop_lesson, "SET enable_seqscan = off; SHOW enable_seqscan")
    assert answer["results"][1]["rows"] == [["off"]]
    assert run_json(client, shop_lesson, "SHOW enable_seqscan")["results"][0]["rows"] == [["on"]]


def test_prepared_statements_and_cursors_do_not_survive_the_run(client, shop_lesson):
    run_json(client, shop_lesson, "PREPARE p AS SELECT 1; BEGIN; DECLARE c CURSOR FOR SELECT 1")
    answer = run_json(client, shop_lesson, "EXECUTE p")
    assert answer["error"]["sqlstate"] == "26000"  # prepared statement "p" does not exist
    answer = run_json(client, shop_lesson, "SELECT count(*) FROM pg_prepared_statements")
    assert answer["results"][0]["rows"] == [[0]]


def test_the_limits_hold_on_a_reused_connection(client, shop_lesson):
    backend_pid(client, shop_lesson)
    answer = run_json(client, shop_lesson, "SHOW statement_timeout; SHOW search_path")
    assert answer["results"][0]["rows"] == [["1s"]]
    sandbox = Sandbox.objects.get(lesson=shop_lesson)
    assert answer["results"][1]["rows"] == [[sandbox.name]]


def test_it_does_not_reuse_a_connection_to_a_reset_sandbox(client, shop_lesson):
    before = backend_pid(client, shop_lesson)
    old_name = Sandbox.objects.get(lesson=shop_lesson).name
    assert api(client, "reset", shop_lesson).status_code == 200
    assert old_name not in connections._idle
    after = backend_pid(client, shop_lesson)
    assert after != before
    answer = run_json(client, shop_lesson, "SELECT current_user")
    assert answer["results"][0]["rows"] == [[Sandbox.objects.get(lesson=shop_lesson).name]]


def test_it_does_not_reuse_a_connection_to_a_dropped_sandbox(client, shop_lesson):
    backend_pid(client, shop_lesson)
    sandbox = Sandbox.objects.get(lesson=shop_lesson)
    assert connections._idle.get(sandbox.name)
    sandbox.drop()
    assert sandbox.name not in connections._idle
    # The next run makes a new sandbox and works.
    assert run_json(client, shop_lesson, "SELECT count(*) > 0 FROM items")["ok"]


def test_it_admits_a_run_in_one_app_database_query(client, shop_lesson):
    run_json(client, shop_lesson, "SELECT 1")  # the sandbox exists, the session too
    with CaptureQueriesContext(connection) as queries:
        run_json(client, shop_lesson, "SELECT 1")
    # The session, then the sandbox found + run counted + slot taken, then the slot freed;
    # nothing else (the /metrics counters are counted in memory).
    statements = [query["sql"] for query in queries]
    assert len(statements) == 3, [sql[:80] for sql in statements]


def test_a_refused_rate_takes_no_slot(client, shop_lesson, settings):
    run_json(client, shop_lesson, "SELECT 1")
    settings.SANDBOX_RUNS_PER_MINUTE = 1
    assert api(client, "run", shop_lesson, "SELECT 1").status_code == 429
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        assert cursor.fetchone() == (0,)


def test_it_claims_a_warm_sandbox_for_a_first_run(client, shop_lesson, settings):
    settings.SANDBOX_WARM_POOL_SIZE = 1
    Sandbox.objects.refill_pool(0, [shop_lesson.fixture])
    warm = Sandbox.objects.get(state="ready")
    assert run_json(client, shop_lesson, "SELECT current_user")["results"][0]["rows"] == [
        [warm.name]
    ]
    claimed = Sandbox.objects.get(name=warm.name)
    assert claimed.state == "active" and claimed.lesson == shop_lesson


def test_the_parse_cache_keeps_each_lessons_languages_apart():
    code = "DO $$ BEGIN PERFORM 1; END $$"
    assert statements.split(code, languages=["plpgsql"])[0].kind == "DoStmt"
    with pytest.raises(statements.StatementRefused):
        statements.split(code, languages=[])
    first = statements.split("SELECT 1")
    first.append("changed by a caller")
    assert len(statements.split("SELECT 1")) == 1


def test_it_names_types_psycopg_does_not_know(client, shop_lesson):
    run_json(client, shop_lesson, "CREATE TYPE mood AS ENUM ('ok')")
    for _ in range(2):  # the second time from the cache of built-in type names
        answer = run_json(client, shop_lesson, "SELECT pg_sleep(0), 'ok'::mood")
        assert answer["results"][0]["types"] == ["void", "mood"]
    run_json(client, shop_lesson, "ALTER TYPE mood RENAME TO feeling")
    answer = run_json(client, shop_lesson, "SELECT 'ok'::feeling")
    assert answer["results"][0]["types"] == ["feeling"]


def _advisory_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_run_costs_three_app_database_statements(client, shop_lesson):
    run_json(client, shop_lesson, "SELECT 1")  # a new visitor: the session is made afterwards
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            run_json(client, shop_lesson, "SELECT 1")
        # The session; the sandbox found + run counted + slot taken; the slot freed.
        statements = [query["sql"] for query in queries]
        assert len(statements) == 3, [sql[:80] for sql in statements]
        assert "querylab_cache" in statements[0]  # cached_db sessions: the cache's row
        assert "EXECUTE querylab_admit" in statements[1]
        assert "pg_advisory_unlock" in statements[2]
        assert _advisory_locks() == 0


@pytest.mark.django_db(transaction=True)
def test_a_signed_in_learners_run_checks_their_learner_in_the_admission_itself(
    other_client, shop_lesson
):
    run_json(other_client, shop_lesson, "SELECT 1")
    with CaptureQueriesContext(connection) as queries:
        run_json(other_client, shop_lesson, "SELECT 1")
    # The session; the user (Django's auth); admission, which checks that the session's
    # Learner is the user's; the slot freed. No statement of its own for the Learner.
    statements = [query["sql"] for query in queries]
    assert len(statements) == 4, [sql[:80] for sql in statements]
    assert "auth_user" in statements[1]
    assert "EXECUTE querylab_admit" in statements[2]
    assert not any("lessons_learner" in sql for sql in statements)


def test_a_signed_in_learners_run_goes_to_their_own_sandbox(
    client, other_client, other_learner, shop_lesson
):
    run_json(client, shop_lesson, "SELECT 1")
    answer = run_json(other_client, shop_lesson, "SELECT current_user")
    sandbox = Sandbox.objects.get(learner__user=other_learner)
    assert answer["results"][0]["rows"] == [[sandbox.name]]


def test_a_session_ended_elsewhere_no_longer_runs_as_its_user(
    other_client, other_learner, shop_lesson
):
    run_json(other_client, shop_lesson, "SELECT 1")
    theirs = Sandbox.objects.get(learner__user=other_learner)
    # Logged out in another tab: the session is gone, this tab still sends its key.
    sent_key = other_client.cookies["sessionid"].value
    other_tab = Client()
    other_tab.cookies["sessionid"] = sent_key
    assert other_tab.post("/accounts/logout/").status_code == 302
    assert other_client.cookies["sessionid"].value == sent_key
    answer = run_json(other_client, shop_lesson, "SELECT current_user")
    assert answer["results"][0]["rows"] != [[theirs.name]]
    assert Sandbox.objects.get(pk=theirs.pk).learner.user == other_learner
    assert _advisory_locks() == 0


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_response_a_middleware_replaces_still_frees_its_slot(
    client, shop_lesson, monkeypatch
):
    # The learner logged out in another tab while the run was going: saving the session then
    # fails and Django answers 400 instead of the run's response, which is never sent.
    from django.contrib.sessions.exceptions import SessionInterrupted
    from django.contrib.sessions.middleware import SessionMiddleware

    run_json(client, shop_lesson, "SELECT 1")

    def interrupted(self, request, response):
        raise SessionInterrupted("The session was deleted before the request completed.")

    with monkeypatch.context() as patch:
        patch.setattr(SessionMiddleware, "process_response", interrupted)
        assert api(client, "run", shop_lesson, "SELECT 1").status_code == 400
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        assert cursor.fetchone() == (0,)
    assert run_json(client, shop_lesson, "SELECT 2")["results"][0]["rows"] == [[2]]


def test_the_admissions_kept_plan_finds_the_sandbox_by_the_index_of_active_ones(shop_lesson):
    # Planning the admission cost several times running it, so it is prepared on each
    # connection and PostgreSQL keeps a generic plan (one for any parameters). That plan must
    # still be able to use the partial index on active sandboxes: it could not when the state
    # was a parameter, and PostgreSQL then planned every run anew.
    statement = _admission_statement()
    sandbox = Sandbox.objects.create(name="qlt_probe", learner_id=learner_id(), lesson=shop_lesson)
    types = ", ".join(statement.parameter_types)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("SET LOCAL enable_seqscan = off")  # the tables here are tiny
        cursor.execute(f"PREPARE probe_admit ({types}) AS {statement.body}".replace("%", "%%"))
        try:
            cursor.execute(
                "EXPLAIN EXECUTE probe_admit (%s, NULL, %s, %s, 1000, 8, 0)",
                [sandbox.learner_id, shop_lesson.track.slug, shop_lesson.slug],
            )
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE probe_admit")
    assert "$1" in plan, plan  # generic: the parameters are left in
    assert "sandbox_one_active_per_learner_and_lesson" in plan, plan
