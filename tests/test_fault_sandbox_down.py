"""The sandbox server stops in the middle of a run: the learner is told the sandbox is
unavailable, the rest of the site keeps working, and runs resume when the server is back,
without restarting the app. The server is a throwaway one, so this also runs where the
configured sandbox server must not be stopped."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.test import Client

from lessons.models import Lesson, Track
from sandbox.tests.conftest import TEST_SETTINGS
from tests.servers import forget_sandbox_server, throwaway_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sandbox_server(tmp_path, settings):
    for name, value in TEST_SETTINGS.items():
        setattr(settings, name, value)
    settings.SANDBOX_STATEMENT_TIMEOUT_MS = 30_000
    settings.SANDBOX_RUN_TIMEOUT_MS = 30_000
    with throwaway_server(tmp_path / "sandbox") as server:
        settings.SANDBOX_DATABASE_URL = server.url()
        yield server
        forget_sandbox_server(server.url())


@pytest.fixture
def lessons(db):
    track = Track.objects.create(slug="sql", title="SQL")
    sandbox_lesson = Lesson.objects.create(
        track=track, slug="indexes", step=1, title="Indexes", mode="sql_sandbox", fixture="shop.sql"
    )
    other = Lesson.objects.create(
        track=track, slug="joins", step=2, title="Joins", mode="sql_sandbox", fixture="shop.sql"
    )
    return sandbox_lesson, other


def run(client: Client, lesson: Lesson, sql: str, **headers):
    return client.post(
        "/api/sandbox/run",
        {"lesson": lesson.ref, "sql": sql},
        content_type="application/json",
        **headers,
    )


def wait_for_sleep(server) -> None:
    with psycopg.connect(server.url(), autocommit=True) as admin:
        for _ in range(100):
            if admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep%' "
                "AND application_name = 'querylab-sandbox'"
            ).fetchone():
                return
            time.sleep(0.1)
    raise AssertionError("the run never started on the sandbox server")


def test_it_says_unavailable_keeps_the_site_up_and_resumes(sandbox_server, lessons, learner):
    lesson, other = lessons
    client = Client()
    client.force_login(learner)
    assert run(client, lesson, "SELECT 1").json()["ok"]

    answers = {}
    in_flight = threading.Thread(
        target=lambda: answers.setdefault("run", run(client, lesson, "SELECT pg_sleep(20)"))
    )
    in_flight.start()
    wait_for_sleep(sandbox_server)
    sandbox_server.stop()
    in_flight.join(timeout=30)

    # The run in flight: a clear 503, not a traceback or an SQL error to puzzle over.
    response = answers["run"]
    assert response.status_code == 503
    assert response.json()["error"].startswith("Sandbox unavailable")
    # While it is down: the next run, a first run of another lesson, and the htmx UI.
    assert run(client, lesson, "SELECT 1").status_code == 503
    started = time.monotonic()
    assert run(client, other, "SELECT 1").status_code == 503
    assert time.monotonic() - started < 5
    htmx = run(client, lesson, "SELECT 1", HTTP_HX_REQUEST="true")
    assert htmx.status_code == 503
    assert b"Sandbox unavailable" in htmx.content
    # The rest of the site does not depend on it.
    for path in ("/", "/learn/sql/", "/learn/sql/indexes/", "/learn/sql/indexes/discussion/"):
        assert client.get(path).status_code == 200, path
    thread = client.post(
        "/learn/sql/indexes/discussion/new/",
        {"title": "Is the sandbox down?", "body": "Mine says unavailable."},
    )
    assert thread.status_code in (200, 302)

    sandbox_server.ensure()  # back, on the same port; the app was not restarted
    resumed = run(client, lesson, "SELECT count(*) FROM items").json()
    assert resumed["ok"], resumed
    assert resumed["results"][0]["rows"] == [[2000]]
