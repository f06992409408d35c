"""The embedded PostgreSQL: first use, restarts, races and crashes, in a folder of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
ENSURE = "from config import embedded; print(embedded.server('app').ensure())"

pytestmark = pytest.mark.slow


def run_python(code: str, data_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "QUERYLAB_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def manage_db(action: str, data_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SANDBOX_DATABASE_URL"}}
    env["QUERYLAB_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "manage.py", "db", action, "app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    yield folder
    manage_db("stop", folder)


def test_two_processes_starting_a_new_server_at_once_both_get_it(data_dir):
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: run_python(ENSURE, data_dir), range(2)))
    for result in results:
        assert result.returncode == 0, result.stderr
    urls = {result.stdout.strip() for result in results}
    assert len(urls) == 1
    with psycopg.connect(urls.pop()) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("querylab",)


def test_data_survives_a_stop_and_start(data_dir):
    url = run_python(ENSURE, data_dir).stdout.strip()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (note text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")
    stopped = manage_db("stop", data_dir)
    assert "app: stopped" in stopped.stdout
    assert "app: stopped" in manage_db("status", data_dir).stdout
    started = manage_db("start", data_dir)
    assert "app: running on 127.0.0.1:" in started.stdout, started.stderr
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT note FROM kept").fetchone() == ("still here",)


def test_a_stale_pid_file_after_a_crash_does_not_stop_it_starting(data_dir):
    url = run_python(ENSURE, data_dir).stdout.strip()
    pgdata = data_dir / "pg" / "app"
    pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    subprocess.run(["kill", "-9", str(pid)], check=True)
    # Wait for the postmaster to be gone, leaving its pid file behind as a crash does.
    subprocess.run(["sh", "-c", f"while kill -0 {pid} 2>/dev/null; do sleep 0.1; done"], timeout=30)
    lines = (pgdata / "postmaster.pid").read_text().splitlines()
    lines[0] = "999999"  # a pid that no process has
    (pgdata / "postmaster.pid").write_text("\n".join(lines) + "\n")
    result = run_python(ENSURE, data_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == url
    with psycopg.connect(result.stdout.strip()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_the_superuser_password_is_not_readable_by_others(data_dir):
    run_python(ENSURE, data_dir)
    state_file = data_dir / "pg" / "app.json"
    assert state_file.stat().st_mode & 0o077 == 0
