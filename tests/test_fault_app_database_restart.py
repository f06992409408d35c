"""The app database restarts under a running site: requests in flight fail cleanly (503 with a
friendly page, no traceback), nothing written before is lost, and the connection pool
recovers without restarting gunicorn. The database is a throwaway embedded server, so this
runs also where the configured one must not be stopped."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from tests.servers import ROOT, gunicorn, log_in, request, site_environment, throwaway_server

pytestmark = pytest.mark.slow


@pytest.fixture
def app_database(tmp_path):
    with throwaway_server(tmp_path / "app", kind="app") as server:
        yield server


def manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr


def hammer(url: str, cookies: dict[str, str], stop: threading.Event, seen: list) -> None:
    """Ask for a signed-in page over and over (bounded), keeping every answer."""
    for _ in range(5000):
        if stop.is_set():
            return
        try:
            status, _, body = request(url, cookies=cookies, timeout=20)
        except OSError as exc:
            seen.append((0, repr(exc).encode()))
        else:
            seen.append((status, body))
        time.sleep(0.02)


def test_it_survives_a_restart_of_the_app_database(app_database, db):
    env = site_environment(DATABASE_URL=app_database.url(), DB_POOL_TIMEOUT="2")
    manage(env, "migrate", "--noinput")
    manage(env, "createcachetable")
    with gunicorn(env, workers=2, threads=4) as site:
        workers = site.workers()
        status, _, _ = request(
            site.url + "/accounts/signup/",
            "POST",
            cookies={"csrftoken": "b" * 32},
            form={
                "username": "ada",
                "email": "ada@example.com",
                "password1": "correct-horse-42",
                "password2": "correct-horse-42",
                "csrfmiddlewaretoken": "b" * 32,
            },
        )
        assert status == 302  # signed up: written before the restart
        cookies = log_in(site.url, "ada", "correct-horse-42")
        page = site.url + "/discussion/notifications/"

        stop, seen = threading.Event(), []
        threads = [
            threading.Thread(target=hammer, args=(page, cookies, stop, seen)) for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        app_database.stop()
        # Longer than DB_POOL_TIMEOUT (2 s): a request that waits that long for a connection
        # gets the outage page. (A shorter outage is only a delay: the pool's check finds the
        # dead connections and the request waits for a new one, which comes once the server
        # is back.)
        time.sleep(4)
        app_database.ensure()
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

        statuses = {status for status, _ in seen}
        assert statuses <= {200, 503}, statuses
        assert 503 in statuses  # the outage was seen, and answered cleanly
        for status, body in seen:
            if status == 503:
                assert b"cannot reach its database" in body
                assert b"Traceback" not in body

        # The pool recovers: the same workers answer again, with the session made before.
        for _ in range(100):
            status, _, body = request(page, cookies=cookies)
            if status == 200:
                break
            time.sleep(0.1)
        assert status == 200 and b"ada" in body
        assert site.workers() == workers
        assert log_in(site.url, "ada", "correct-horse-42")["sessionid"]
