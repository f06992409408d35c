# ruff: noqa: F811 (pytest fixtures imported from lab_support are arguments here)
"""The lab worker (wall 2): a run past a bound gets a message naming it and the next run works;
the worker holds no secret; its socket is its user's alone; it refuses to start unisolated."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from sandbox.lab import launch
from sandbox.tests.lab_support import (  # noqa: F401
    CONTENT,
    lab_client,
    lab_lesson,
    lab_run,
    lab_settings,
    lab_track,
    lab_worker,
)


def test_a_run_past_the_wall_clock_is_named_and_the_next_run_works(lab_client, lab_lesson):
    # Each sleep is under the statement timeout; together they pass the run's wall clock.
    code = 'for i in range(10):\n    list(Book.objects.raw("SELECT 1 AS id, pg_sleep(0.9)"))'
    answer = lab_run(lab_client, lab_lesson, code)
    assert answer["bound"] == "wall_clock", answer["error"]
    assert answer["error"]["message"].startswith("Run time limit: a lab run may take at most 4 s")
    assert lab_run(lab_client, lab_lesson, "Author.objects.count()")["result"]["rows"] == [[50]]


def test_cpu_time_is_named(lab_client, lab_lesson):
    answer = lab_run(lab_client, lab_lesson, "while True:\n    pass")
    assert answer["bound"] == "cpu"
    assert answer["error"]["message"].startswith("CPU time limit")


def test_memory_is_named(lab_client, lab_lesson):
    answer = lab_run(lab_client, lab_lesson, "x = [0] * (10 ** 10)")
    assert answer["error"]["message"].startswith("Memory limit")


def test_statements_are_capped_and_what_ran_is_shown(lab_client, lab_lesson):
    answer = lab_run(lab_client, lab_lesson, "while True:\n    Book.objects.count()")
    assert answer["bound"] == "statements"
    assert len(answer["queries"]) == settings.LAB_MAX_QUERIES
    assert answer["repeated"][0]["count"] == settings.LAB_MAX_QUERIES


CHILD_PROBE = """
import os, sys
from sandbox.lab.oslimits import limit_process
limit_process({"cpu_seconds": 1, "memory_mb": 64, "open_files": 16}, 61999)
results = [str(os.getuid())]
try:
    with open(sys.argv[1] + "/probe.txt", "w") as f:
        f.write("x" * 10)
    results.append("wrote")
except OSError as exc:
    results.append("OSError" if exc.errno == 27 else type(exc).__name__)  # EFBIG
try:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    results.append("forked")
except OSError:
    results.append("nofork")
for secret in sys.argv[2:]:
    try:
        open(secret).read()
        results.append("read-secret")
    except OSError:
        results.append("no-secret")
try:
    x = bytearray(200 * 1024 * 1024)
    results.append("big")
except MemoryError:
    results.append("nomem")
sys.stdout.write(" ".join(results))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to a uid per run needs root")
def test_a_child_runs_as_its_own_uid_without_files_forks_secrets_or_much_memory():
    """Wall 2 alone, without the language: what the child may do once limited."""
    import tempfile

    tmp_path = Path(tempfile.mkdtemp(prefix="querylab-lab-probe-"))
    tmp_path.chmod(0o777)  # writable by the child's uid: only the file size limit stops it
    secrets = [settings.DATA_DIR / "secret_key", settings.DATA_DIR / "pg" / "sandbox.json"]
    done = subprocess.run(
        [sys.executable, "-c", CHILD_PROBE, str(tmp_path), *map(str, secrets)],
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=30,
    )
    assert done.stdout.split() == [
        "61999",
        "OSError",
        "nofork",
        "no-secret",
        "no-secret",
        "nomem",
    ], done.stdout + done.stderr


def test_the_worker_holds_no_secret(lab_worker):
    pids = subprocess.run(
        ["pgrep", "-f", f"sandbox.lab.worker --socket {lab_worker}"],
        capture_output=True,
        text=True,
    ).stdout.split()
    assert pids
    for pid in pids:
        environ = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
        assert "SECRET_KEY" not in environ
        assert "DATABASE_URL" not in environ
        assert settings.SECRET_KEY not in environ


def test_the_socket_is_its_owners_alone(lab_worker):
    mode = stat.S_IMODE(os.stat(lab_worker).st_mode)
    assert mode == 0o600


@pytest.mark.skipif(not launch.bwrap_available(), reason="bubblewrap is not installed")
def test_under_bubblewrap_the_data_folders_are_hidden(tmp_path):
    socket_path = tmp_path / "w.sock"
    command = launch.worker_command(socket_path, CONTENT / "models", bwrap=True)
    probe = command[: command.index(sys.executable)] + [
        sys.executable,
        "-c",
        "import os, sys; sys.stdout.write(repr(os.listdir(sys.argv[1])))",
        str(settings.DATA_DIR),
    ]
    listed = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    assert listed.stdout in ("[]", ""), listed.stdout


def test_it_refuses_to_start_with_debug_off_and_no_isolation():
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "0"}
    script = (
        "import os, sys; os.geteuid = lambda: 1000; sys.argv = ['w', '--socket', '/x', "
        "'--models-dir', '.']; from sandbox.lab import worker; worker.main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
    )
    assert done.returncode == 2
    assert "LAB_ISOLATED_BY_OPERATOR=1" in done.stderr
    env["LAB_ISOLATED_BY_OPERATOR"] = "1"
    assert launch  # the operator's word is enough (checked without starting a worker)
    from sandbox.lab.worker import refuse_reason

    os.environ["LAB_ISOLATED_BY_OPERATOR"] = "1"
    try:
        assert refuse_reason() is None
    finally:
        del os.environ["LAB_ISOLATED_BY_OPERATOR"]


def test_a_run_after_the_sandboxs_sessions_were_ended_still_works(lab_client, lab_lesson):
    from sandbox import servers
    from sandbox.models import Sandbox

    assert lab_run(lab_client, lab_lesson, "Tag.objects.count()")["ok"]
    sandbox = Sandbox.objects.get(lesson=lab_lesson)
    with servers.provisioning(sandbox.server).pool.connection() as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
            [sandbox.name],
        )
    for _ in range(2):
        answer = lab_run(lab_client, lab_lesson, "Tag.objects.count()")
        assert answer["ok"], answer["error"]


@pytest.mark.skipif(os.geteuid() != 0, reason="keepers need a uid of their own, so root")
def test_a_learners_runs_one_after_another_share_their_keepers_connection(lab_client, lab_lesson):
    # Each answer reaches the client a moment before the keeper tells the worker it is done:
    # the next run, sent at once, waits for the keeper instead of going to a plain child with a
    # new connection.
    from sandbox.lab import client
    from sandbox.models import Sandbox

    code = 'list(Author.objects.raw("SELECT pg_backend_pid() AS id"))[0].id'
    assert lab_run(lab_client, lab_lesson, code)["ok"]
    sandbox = Sandbox.objects.get(lesson=lab_lesson)
    request = {"op": "run", "models": "library", "code": code, "limits": client.limits()}
    backends = set()
    for _ in range(30):
        answer = client.call_as(sandbox.server, sandbox.name, request)
        assert answer["ok"], answer["error"]
        backends.add(answer["result"]["rows"][0][0])
    assert len(backends) == 1
