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
ENSURE = "from config.infra import embedded; print(embedded.server('app').ensure())"

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


def _niceness(pid: int) -> int:
    # /proc/<pid>/stat: the 19th field is the nice value (the name in parentheses may hold
    # spaces, so count from after it).
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16])


def test_the_sandbox_server_runs_at_a_lower_cpu_priority_than_the_app_server(data_dir):
    # Learner SQL that burns CPU until its timeout must not slow the site's pages down: the
    # sandbox server and its backends run niced (SANDBOX_SERVER_NICE, default 10).
    code = (
        "from config.infra import embedded; "
        "[embedded.server(n).ensure() for n in ('app', 'sandbox')]"
    )
    result = run_python(code, data_dir)
    assert result.returncode == 0, result.stderr
    try:
        pids = {
            name: int((data_dir / "pg" / name / "postmaster.pid").read_text().split()[0])
            for name in ("app", "sandbox")
        }
        assert _niceness(pids["sandbox"]) == min(19, 10 + os.nice(0))
        assert _niceness(pids["app"]) == os.nice(0)
    finally:
        env = {**os.environ, "QUERYLAB_DATA_DIR": str(data_dir)}
        env = {k: v for k, v in env.items() if k not in {"DATABASE_URL", "SANDBOX_DATABASE_URL"}}
        subprocess.run(
            [sys.executable, "manage.py", "db", "stop", "sandbox"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=120,
        )
