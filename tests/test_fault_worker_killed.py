"""A gunicorn worker is killed (SIGKILL) in the middle of a sandbox run or while it makes a
sandbox: after the janitor, no learner backend runs on and no half-made sandbox is left."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import time
from datetime import timedelta
from io import StringIO

import psycopg
import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from lessons.models import Lesson, Track
from sandbox import connections, roles, servers
from sandbox.models import Sandbox
from sandbox.tests.conftest import TEST_SETTINGS
from tests.servers import (
    CSRF,
    SANDBOX_FIXTURES,
    api_headers,
    gunicorn,
    request,
    site_environment,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RUN_TIMEOUT_MS = 3000
LIMITS = {
    "SANDBOX_STATEMENT_TIMEOUT_MS": 60_000,  # the worker's watchdog is the only clock
    "SANDBOX_RUN_TIMEOUT_MS": RUN_TIMEOUT_MS,
    "SANDBOX_CANCEL_GRACE_MS": 300,
}


@pytest.fixture(scope="module")
def fixtures_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fixtures")
    shutil.copy(SANDBOX_FIXTURES / "shop.sql", folder / "shop.sql")
    (folder / "slow.sql").write_text("SELECT pg_sleep(5);\nCREATE TABLE items (a int);\n")
    folder.chmod(0o755)
    return folder


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker, fixtures_dir):
    env = site_environment(
        SANDBOX_FIXTURES_DIR=str(fixtures_dir), **{k: str(v) for k, v in LIMITS.items()}
    )
    with gunicorn(env, workers=1) as server:
        yield server
    with django_db_blocker.unblock(), override_settings(**TEST_SETTINGS):
        roles.remove_installation(0)  # the test provisioner, as sandbox/tests/ do


@pytest.fixture
def same_settings(settings, fixtures_dir):
    for name, value in {**TEST_SETTINGS, **LIMITS}.items():
        setattr(settings, name, value)
    settings.SANDBOX_FIXTURES_DIR = fixtures_dir
    yield settings
    connections.close_idle_connections()
    names = sorted(roles.existing_names(0))
    if names:
        roles.drop(0, names)


def signed_in(learner) -> dict[str, str]:
    client = Client()
    client.force_login(learner)
    return {"sessionid": client.cookies["sessionid"].value, "csrftoken": CSRF}


def lesson(slug: str, fixture: str) -> Lesson:
    track, _ = Track.objects.get_or_create(slug="sql", defaults={"title": "SQL"})
    return Lesson.objects.create(
        track=track, slug=slug, step=1, title=slug, mode="sql_sandbox", fixture=fixture
    )


def backends(where: str) -> list[tuple[int, str]]:
    with psycopg.connect(servers.sandbox_urls()[0], autocommit=True) as admin:
        return admin.execute(
            f"SELECT pid, usename FROM pg_stat_activity WHERE state = 'active' AND {where}"
        ).fetchall()


def wait_for(where: str) -> list[tuple[int, str]]:
    for _ in range(150):
        found = backends(where)
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no backend {where}")


def post_in_background(site, lesson_ref: str, sql: str, cookies) -> threading.Thread:
    def post():
        # The worker dies under it: a broken connection is the point.
        with contextlib.suppress(OSError):
            request(
                site.url + "/api/sandbox/run",
                "POST",
                {"lesson": lesson_ref, "sql": sql},
                cookies,
                api_headers(),
                timeout=60,
            )

    thread = threading.Thread(target=post)
    thread.start()
    return thread


def kill_workers(site) -> None:
    for pid in site.workers():
        os.kill(pid, signal.SIGKILL)


def test_it_ends_the_backend_of_a_run_whose_worker_died(site, same_settings, learner):
    shop = lesson("indexes", "shop.sql")
    cookies = signed_in(learner)
    doomed = post_in_background(site, shop.ref, "SELECT pg_sleep(50)", cookies)
    [(pid, role)] = wait_for(
        "application_name = 'querylab-sandbox' AND query LIKE '%pg_sleep(50)%'"
    )

    kill_workers(site)
    doomed.join(timeout=30)

    time.sleep(RUN_TIMEOUT_MS / 1000 + 1)
    with psycopg.connect(servers.sandbox_urls()[0]) as admin:
        version = admin.info.server_version
    if version < 170000:
        # PostgreSQL does not notice the vanished client while the statement runs; 17+ ends
        # it by itself through the transaction_timeout backstop the runner sets.
        assert (pid, role) in backends("true")
    call_command("sandbox", "janitor", stdout=StringIO())
    for _ in range(50):
        if not backends(f"pid = {pid}"):
            break
        time.sleep(0.1)
    assert backends(f"usename = '{role}'") == []
    # The sandbox itself was whole, and stays the learner's.
    assert Sandbox.objects.get(name=role).state == Sandbox.State.ACTIVE


def test_it_leaves_no_half_made_sandbox(site, same_settings, learner):
    slow = lesson("slow", "slow.sql")
    cookies = signed_in(learner)
    doomed = post_in_background(site, slow.ref, "SELECT 1", cookies)
    wait_for("application_name = 'querylab-provisioner' AND query LIKE '%pg_sleep(5)%'")

    kill_workers(site)
    doomed.join(timeout=30)

    (half_made,) = Sandbox.objects.all()
    assert half_made.state == Sandbox.State.PROVISIONING
    # The janitor leaves a young "provisioning" row alone (a live worker may be making it);
    # seen ten minutes later, it is half-made.
    Sandbox.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    out = StringIO()
    call_command("sandbox", "janitor", stdout=out)
    assert "1 half-made" in out.getvalue()
    assert not Sandbox.objects.exists()
    # The provisioning transaction is rolled back once its sleep ends: nothing is left.
    for _ in range(100):
        if not backends("application_name = 'querylab-provisioner'"):
            break
        time.sleep(0.1)
    assert half_made.name not in roles.existing_names(0)
