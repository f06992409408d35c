"""Helpers for the fault and scaling tests: throwaway PostgreSQL servers in temp folders (so a
test may stop one even when the suite runs on a server it must not stop), and real gunicorn
instances on free ports of 127.0.0.1. Everything started here is stopped by the same helper."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from django.conf import settings

from config.infra import embedded

ROOT = Path(__file__).resolve().parent.parent
SANDBOX_FIXTURES = ROOT / "sandbox" / "tests" / "fixtures"


@dataclass(frozen=True)
class ThrowawayServer(embedded.Server):
    """An embedded server (``app`` or ``sandbox`` kind) whose data lives under ``folder``."""

    folder: Path = Path("/nonexistent")

    @property
    def root(self) -> Path:
        return self.folder / "pg"


@contextlib.contextmanager
def throwaway_server(folder: Path, kind: str = "sandbox") -> Iterator[ThrowawayServer]:
    folder.mkdir(parents=True, exist_ok=True)
    server = ThrowawayServer(kind, folder)
    server.ensure()
    try:
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop()


def forget_sandbox_server(url: str) -> None:
    """Close this process's pools to a sandbox server that is going away for good."""
    from sandbox import connections
    from sandbox import servers as sandbox_servers

    connections.close_idle_connections()
    for key in [key for key in sandbox_servers._servers if key[0] == url]:
        sandbox_servers._servers.pop(key).pool.close()
    pool = sandbox_servers._superuser_pools.pop(url, None)
    if pool is not None:
        pool.close()
    sandbox_servers._answers.pop(url, None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_database_url() -> str:
    """The URL of the database this test process uses (the test database)."""
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgresql://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def site_environment(**overrides: str) -> dict[str, str]:
    """Environment for a gunicorn serving this test run's databases as in production."""
    env = {
        **os.environ,
        "DATABASE_URL": app_database_url(),
        "SANDBOX_DATABASE_URL": settings.SANDBOX_DATABASE_URL,
        "SECRET_KEY": settings.SECRET_KEY,  # sessions and sandbox passwords must match
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "STATIC_MANIFEST": "0",
        "SANDBOX_NAME_PREFIX": "qlt",
        "SANDBOX_FIXTURES_DIR": str(SANDBOX_FIXTURES),
        "SANDBOX_WARM_POOL_SIZE": "0",
        "SANDBOX_RUNS_PER_MINUTE": "10000",
        "LOG_LEVEL": "WARNING",
    }
    env.update(overrides)
    return env


@dataclass
class Gunicorn:
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]


@contextlib.contextmanager
def gunicorn(env: dict[str, str], workers: int = 1, threads: int = 4) -> Iterator[Gunicorn]:
    port = free_port()
    env = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_THREADS": str(threads),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Gunicorn(process, port)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "gunicorn exited while starting"
            with contextlib.suppress(OSError):
                if request(server.url + "/healthz", timeout=2)[0] in (200, 503):
                    break
            assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
            time.sleep(0.2)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def request(
    url: str,
    method: str = "GET",
    body: dict | None = None,
    cookies: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
    form: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request (a JSON ``body`` or a ``form``); answers (status, headers, body) for
    every status, without following redirects."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    sent = dict(headers or {})
    if cookies:
        sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    elif form is not None:
        data = urlencode(form).encode()
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), data, sent)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


CSRF = "a" * 32


def api_headers() -> dict[str, str]:
    return {"X-CSRFToken": CSRF}


def log_in(base_url: str, username: str, password: str) -> dict[str, str]:
    """Log in through the site's own form, as a browser does; returns the cookies."""
    cookies = {"csrftoken": CSRF}
    status, headers, _ = request(
        base_url + "/accounts/login/",
        "POST",
        cookies=cookies,
        form={"username": username, "password": password, "csrfmiddlewaretoken": CSRF},
    )
    assert status == 302, status
    session = re.search(r"sessionid=([^;]+)", headers.get("Set-Cookie", ""))
    assert session, headers
    return {**cookies, "sessionid": session.group(1)}
