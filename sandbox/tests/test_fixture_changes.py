"""A lesson's fixture changes reach learners (issue #21): a sandbox remembers the fixture
version that seeded it; a learner with an older one is told and offered a reset, keeps their
own tables until they accept, and Reset seeds from the lesson's current fixture. Warm sandboxes
of an old version are dropped."""

from __future__ import annotations

import shutil

import pytest

from lessons.models import Lesson
from sandbox.models import Sandbox
from sandbox.tests.conftest import FIXTURES, api, run_json

pytestmark = pytest.mark.django_db

COUPONS = (
    "\nCREATE TABLE coupons (code text PRIMARY KEY);\nINSERT INTO coupons VALUES ('WELCOME');\n"
)


@pytest.fixture
def fixtures(tmp_path, settings):
    """A copy of the test fixtures that the test may edit."""
    folder = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, folder)
    settings.SANDBOX_FIXTURES_DIR = folder
    return folder


@pytest.fixture
def signed_in(client, learner):
    client.force_login(learner)
    return client


def test_it_tells_a_learner_with_old_data_and_keeps_their_tables_until_reset(
    signed_in, shop_lesson, fixtures
):
    first = run_json(
        signed_in, shop_lesson, "CREATE TABLE mine (x int); INSERT INTO mine VALUES (1)"
    )
    assert first["ok"] and first["data_changed"] is False
    with (fixtures / "shop.sql").open("a") as fixture:
        fixture.write(COUPONS)

    answer = run_json(signed_in, shop_lesson, "SELECT x FROM mine")
    assert answer["ok"] and answer["results"][0]["rows"] == [[1]]  # still theirs
    assert answer["data_changed"] is True
    assert "This lesson's data has changed" in answer["data_changed_message"]
    assert not run_json(signed_in, shop_lesson, "SELECT code FROM coupons")["ok"]

    assert api(signed_in, "reset", shop_lesson).json()["ok"]
    after = run_json(signed_in, shop_lesson, "SELECT code FROM coupons")
    assert after["results"][0]["rows"] == [["WELCOME"]]
    assert after["data_changed"] is False
    assert not run_json(signed_in, shop_lesson, "SELECT x FROM mine")["ok"]


def test_reset_seeds_from_the_fixture_the_lesson_names_now(signed_in, shop_lesson, fixtures):
    run_json(signed_in, shop_lesson, "SELECT 1")
    (fixtures / "coupons.sql").write_text(COUPONS)
    Lesson.objects.filter(pk=shop_lesson.pk).update(fixture="coupons.sql")

    assert run_json(signed_in, shop_lesson, "SELECT count(*) FROM items")["data_changed"]
    page = signed_in.post(
        "/api/sandbox/reset", {"lesson": shop_lesson.ref}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "reset to the lesson's starting data" in page
    answer = run_json(signed_in, shop_lesson, "SELECT code FROM coupons")
    assert answer["results"][0]["rows"] == [["WELCOME"]]
    assert not run_json(signed_in, shop_lesson, "SELECT count(*) FROM items")["ok"]
    assert Sandbox.objects.active().get().fixture == "coupons.sql"


def test_the_lesson_page_asks_and_offers_a_reset(signed_in, shop_lesson, fixtures):
    page = signed_in.get("/sandbox/sql/indexes/").content.decode()
    assert 'hx-get="/api/sandbox/status?lesson=sql/indexes"' in page
    status = signed_in.get("/api/sandbox/status", {"lesson": "sql/indexes"}).json()
    assert status == {"ok": True, "has_sandbox": False, "data_changed": False}

    run_json(signed_in, shop_lesson, "SELECT 1")
    assert signed_in.get("/api/sandbox/status", {"lesson": "sql/indexes"}).json() == {
        "ok": True,
        "has_sandbox": True,
        "data_changed": False,
    }
    quiet = signed_in.get("/api/sandbox/status?lesson=sql/indexes", HTTP_HX_REQUEST="true")
    assert "data changed" not in quiet.content.decode()

    with (fixtures / "shop.sql").open("a") as fixture:
        fixture.write(COUPONS)
    status = signed_in.get("/api/sandbox/status", {"lesson": "sql/indexes"}).json()
    assert status["data_changed"] is True
    notice = signed_in.get("/api/sandbox/status?lesson=sql/indexes", HTTP_HX_REQUEST="true")
    html = notice.content.decode()
    assert "The lesson's data changed." in html
    assert 'hx-post="/api/sandbox/reset"' in html and "Reset to the new data" in html


def test_the_status_makes_no_session_for_a_visitor(client, shop_lesson):
    status = client.get("/api/sandbox/status", {"lesson": "sql/indexes"})
    assert status.json() == {"ok": True, "has_sandbox": False, "data_changed": False}
    assert "sessionid" not in status.cookies


def test_warm_sandboxes_of_an_old_fixture_version_are_dropped_and_refilled(
    settings, shop_lesson, fixtures
):
    settings.SANDBOX_WARM_POOL_SIZE = 1
    assert Sandbox.objects.refill_pool(0) == 1
    old = Sandbox.objects.get(state=Sandbox.State.READY)
    assert not Sandbox.objects.stale_warm().exists()
    with (fixtures / "shop.sql").open("a") as fixture:
        fixture.write(COUPONS)

    assert list(Sandbox.objects.stale_warm()) == [old]
    report = Sandbox.objects.sweep()
    assert report.stale == 1 and report.pooled == 1
    fresh = Sandbox.objects.get(state=Sandbox.State.READY)
    assert fresh.pk != old.pk and fresh.fixture_digest != old.fixture_digest


def test_warm_sandboxes_of_a_fixture_no_lesson_names_are_dropped(settings, shop_lesson, fixtures):
    settings.SANDBOX_WARM_POOL_SIZE = 1
    Sandbox.objects.refill_pool(0)
    (fixtures / "coupons.sql").write_text(COUPONS)
    Lesson.objects.filter(pk=shop_lesson.pk).update(fixture="coupons.sql")
    report = Sandbox.objects.sweep()
    assert report.stale == 1
    assert list(
        Sandbox.objects.filter(state=Sandbox.State.READY).values_list("fixture", flat=True)
    ) == ["coupons.sql"]


def test_the_lesson_page_has_the_notice_slot(signed_in, shop_lesson):
    page = signed_in.get("/learn/sql/indexes/").content.decode()
    assert 'hx-get="/api/sandbox/status?lesson=sql/indexes"' in page
    assert 'hx-trigger="load"' in page


# -- The fixture is published with the lesson: a failed sync keeps learners on the last good one.


@pytest.fixture
def synced(tmp_path, settings):
    """The sample content/ copied, synced with its checks, and the sandbox pointed at the copy's
    files (as CONTENT_DIR is in production). Returns the copy's folder."""
    from lessons.sync import sync_content
    from lessons.tests.conftest import SAMPLE_CONTENT

    content = tmp_path / "content"
    shutil.copytree(SAMPLE_CONTENT, content)
    settings.SANDBOX_FIXTURES_DIR = content / "fixtures"
    assert sync_content(content).errors == []
    return content


def sync(content):
    from lessons.sync import sync_content

    return sync_content(content)


def test_a_fixture_edit_that_fails_its_checks_never_reaches_a_sandbox(
    synced, client, learner, other_learner
):
    lesson = Lesson.objects.by_ref("postgresql/first-queries")
    client.force_login(learner)
    assert run_json(client, lesson, "SELECT count(*) FROM customers")["ok"]
    with (synced / "fixtures" / "shop.sql").open("a") as fixture:
        fixture.write(COUPONS + "SELECT 1/0;\n")

    report = sync(synced)
    assert report.published == [] and report.errors
    assert Lesson.objects.published().filter(pk=lesson.pk).exists()

    mine = run_json(client, lesson, "SELECT code FROM coupons")
    assert not mine["ok"] and mine["data_changed"] is False  # nothing new was published
    assert api(client, "reset", lesson).json()["ok"]
    after = run_json(client, lesson, "SELECT count(*) FROM customers")
    assert after["ok"] and after["data_changed"] is False
    assert not run_json(client, lesson, "SELECT code FROM coupons")["ok"]

    client.force_login(other_learner)  # a new learner's sandbox: the old tables
    assert run_json(client, lesson, "SELECT count(*) FROM customers")["ok"]
    assert not run_json(client, lesson, "SELECT code FROM coupons")["ok"]


def test_a_good_fixture_edit_is_published_and_seeds_new_sandboxes(synced, client, learner):
    lesson = Lesson.objects.by_ref("postgresql/first-queries")
    with (synced / "fixtures" / "shop.sql").open("a") as fixture:
        fixture.write(COUPONS)
    assert "postgresql/01-first-queries.md" in sync(synced).published
    # The file changes again on disk but is not synced: sandboxes keep the published text.
    (synced / "fixtures" / "shop.sql").write_text("CREATE TABLE unsynced (x int);\n")

    client.force_login(learner)
    answer = run_json(client, lesson, "SELECT code FROM coupons")
    assert answer["ok"] and answer["results"][0]["rows"] == [["WELCOME"]]
    assert not run_json(client, lesson, "SELECT * FROM unsynced")["ok"]
    assert "coupons" in Lesson.objects.get(pk=lesson.pk).fixture_sql


def test_the_warm_pool_and_the_grader_seed_from_the_published_fixture(settings, synced):
    settings.SANDBOX_WARM_POOL_SIZE = 1
    lesson = Lesson.objects.by_ref("postgresql/first-queries")
    (synced / "fixtures" / "shop.sql").write_text("SELECT 1/0;\n")  # broken, never synced
    assert Sandbox.objects.refill_pool(0) == 1
    assert not Sandbox.objects.stale_warm().exists()
    grader = Sandbox.objects.grader_for(lesson)
    assert not Sandbox.objects.stale_graders().exists()
    assert grader.fixture_digest == Sandbox.objects.get(state=Sandbox.State.READY).fixture_digest


def test_the_migration_stores_the_files_of_lessons_published_before(
    settings, tmp_path, shop_lesson, plpgsql_lesson, caplog
):
    import importlib

    from django.apps import apps

    from sandbox.models.seeds import lesson_seed

    migration = importlib.import_module("lessons.migrations.0010_lesson_published_seed")
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    settings.CONTENT_DIR = tmp_path
    settings.SANDBOX_FIXTURES_DIR = FIXTURES
    Lesson.objects.filter(pk=plpgsql_lesson.pk).update(fixture="gone.sql")
    (tmp_path / "fixtures" / "shop.sql").write_text("CREATE TABLE stored (x int);\n")
    migration.store_published_seeds(apps, None)

    assert Lesson.objects.get(pk=shop_lesson.pk).fixture_sql == "CREATE TABLE stored (x int);\n"
    missing = Lesson.objects.get(pk=plpgsql_lesson.pk)
    assert missing.fixture_sql == ""
    missing.fixture = "shop.sql"  # its file at seeding time, with a warning
    assert lesson_seed(missing) == (FIXTURES / "shop.sql").read_text()
    assert "has no stored fixture" in caplog.text
