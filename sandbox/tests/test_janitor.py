from __future__ import annotations

from datetime import timedelta
from io import StringIO

import psycopg
from django.core.management import call_command
from django.utils import timezone
from psycopg import sql

from sandbox import roles, servers
from sandbox.models import Sandbox
from sandbox.tests.conftest import learner_id, run_json


def _sandbox(lesson, learner: int, idle_for: timedelta) -> Sandbox:
    sandbox = Sandbox.objects.for_learner(learner, lesson)
    Sandbox.objects.filter(pk=sandbox.pk).update(last_used_at=timezone.now() - idle_for)
    return sandbox


def test_it_drops_sandboxes_idle_past_their_expiry(empty_lesson, learner, other_learner):
    old_user = _sandbox(empty_lesson, learner_id(learner), timedelta(hours=25))
    recent_user = _sandbox(empty_lesson, learner_id(other_learner), timedelta(hours=3))
    old_visitor = _sandbox(empty_lesson, learner_id(), timedelta(hours=3))
    recent_visitor = _sandbox(empty_lesson, learner_id(), timedelta(hours=1))

    report = Sandbox.objects.sweep()

    assert report.expired == 2
    assert set(Sandbox.objects.values_list("name", flat=True)) == {
        recent_user.name,
        recent_visitor.name,
    }
    assert roles.existing_names(0) == {recent_user.name, recent_visitor.name}
    assert old_user.name not in roles.existing_names(0)
    assert old_visitor.name not in roles.existing_names(0)


def test_it_drops_the_sandboxes_of_a_deleted_learner(empty_lesson, learner):
    from lessons.models import Learner

    theirs = _sandbox(empty_lesson, learner_id(learner), timedelta(minutes=1))
    learner.delete()  # the account goes, and its Learner row with it

    assert not Learner.objects.exists()
    assert Sandbox.objects.get(pk=theirs.pk).learner is None  # kept for the janitor
    assert Sandbox.objects.sweep().expired == 1
    assert not Sandbox.objects.exists()
    assert theirs.name not in roles.existing_names(0)


def test_it_honours_configured_expiry(empty_lesson, settings):
    settings.SANDBOX_EXPIRY_SESSION_HOURS = 5
    _sandbox(empty_lesson, learner_id(), timedelta(hours=3))
    assert Sandbox.objects.sweep().expired == 0


def test_it_drops_half_made_sandboxes_and_orphans(empty_lesson):
    stuck = Sandbox.objects.create(
        name=servers.new_sandbox_name(),
        state=Sandbox.State.PROVISIONING,
        created_at=timezone.now() - timedelta(minutes=11),
    )
    roles.provision(0, stuck.name, "")
    orphan = servers.new_sandbox_name()
    roles.provision(0, orphan, "CREATE TABLE t (a int)")

    report = Sandbox.objects.sweep()

    assert report.half_made == 1 and report.orphans == 1
    assert not Sandbox.objects.exists()
    assert roles.existing_names(0) == set()


def test_it_never_touches_roles_or_schemas_it_did_not_make(empty_lesson, settings):
    foreign = "qlx_not_ours_s0123456789abcdef0123"
    url = servers.sandbox_urls()[0]
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(foreign)))
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(foreign)))
    try:
        settings.SANDBOX_NAME_PREFIX = "qlx"  # even a look-alike prefix is not enough
        Sandbox.objects.sweep()
        settings.SANDBOX_NAME_PREFIX = "qlt"
        call_command("sandbox", "janitor", stdout=StringIO())
        with psycopg.connect(url, autocommit=True) as admin:
            role = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [foreign])
            assert role.fetchone()
            schema = admin.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [foreign])
            assert schema.fetchone()
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {}").format(sql.Identifier(foreign)))
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(foreign)))
        settings.SANDBOX_NAME_PREFIX = "qlx"
        roles.remove_installation(0)  # the "qlx" installation's provisioner
        settings.SANDBOX_NAME_PREFIX = "qlt"


def test_it_reports_from_the_command(empty_lesson):
    _sandbox(empty_lesson, learner_id(), timedelta(hours=3))
    out = StringIO()
    call_command("sandbox", "janitor", stdout=out)
    assert "dropped 1 expired" in out.getvalue()


def test_it_clears_expired_sessions_and_keeps_live_ones(db):
    from django.contrib.sessions.models import Session

    now = timezone.now()
    Session.objects.create(session_key="e" * 32, session_data="", expire_date=now - timedelta(1))
    Session.objects.create(session_key="l" * 32, session_data="", expire_date=now + timedelta(1))

    report = Sandbox.objects.sweep()

    assert report.sessions == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == ["l" * 32]


def test_the_command_touches_its_heartbeat_after_a_sweep(empty_lesson, tmp_path):
    heartbeat = tmp_path / "heartbeat"
    out = StringIO()
    call_command("sandbox", "janitor", "--heartbeat", str(heartbeat), stdout=out)
    assert heartbeat.exists()
    assert "expired session(s)" in out.getvalue()


def test_it_gives_a_warm_sandbox_to_a_new_learner(shop_lesson, plpgsql_lesson, settings):
    settings.SANDBOX_WARM_POOL_SIZE = 2
    assert Sandbox.objects.refill_pool(0, ["shop.sql"]) == 2
    assert Sandbox.objects.refill_pool(0, ["shop.sql"]) == 0
    warm = set(Sandbox.objects.filter(state="ready").values_list("name", flat=True))

    mine = Sandbox.objects.for_learner(learner_id(), plpgsql_lesson)

    assert mine.name in warm
    assert mine.state == Sandbox.State.ACTIVE
    # The lesson's language was granted when the warm sandbox was claimed.
    from sandbox import statements

    outcome = mine.run(statements.split("DO $$BEGIN NULL; END$$", languages=["plpgsql"]))
    assert outcome.error is None
    other = Sandbox.objects.for_learner(learner_id(), shop_lesson)
    assert other.name in warm
    outcome = other.run(statements.split("SELECT count(*) FROM items"))
    assert outcome.results[0].rows == [[2000]]


def test_with_the_warm_pool_off_it_reads_no_fixture(shop_lesson, settings, caplog):
    settings.SANDBOX_WARM_POOL_SIZE = 0
    settings.SANDBOX_FIXTURES_DIR = "/nonexistent"  # a missing fixture would be warned about
    report = Sandbox.objects.sweep()
    assert report.pooled == 0 and not report.errors
    assert "fixture" not in caplog.text
    settings.SANDBOX_WARM_POOL_SIZE = 1
    assert Sandbox.objects.refill_pool(0) == 0
    assert "The sandbox fixture 'shop.sql' is not in" in caplog.text


def test_it_resets_to_the_fixture(client, shop_lesson):
    run_json(client, shop_lesson, "CREATE TABLE mine (a int); DELETE FROM items")
    before = Sandbox.objects.get()
    response = client.post(
        "/api/sandbox/reset", {"lesson": shop_lesson.ref}, content_type="application/json"
    )
    assert response.json() == {"ok": True, "error": None}
    after = Sandbox.objects.get()
    assert after.name != before.name
    assert before.name not in roles.existing_names(0)
    assert run_json(client, shop_lesson, "SELECT count(*) FROM items")["results"][0]["rows"] == [
        [2000]
    ]
    assert run_json(client, shop_lesson, "SELECT * FROM mine")["error"]["sqlstate"] == "42P01"


def test_it_makes_one_sandbox_when_resetting_before_any_run(client, shop_lesson):
    response = client.post(
        "/api/sandbox/reset", {"lesson": shop_lesson.ref}, content_type="application/json"
    )
    assert response.json() == {"ok": True, "error": None}
    assert len(roles.existing_names(0)) == 1
