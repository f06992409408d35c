"""config/gunicorn.py: gunicorn's own threaded worker, configured (no subclass of its
internals); a fresh folder for the workers' Prometheus counters; and what a worker loaded at
start is left out of garbage collection."""

from __future__ import annotations

import contextlib
import http.client
import os
import runpy
import signal
import subprocess
import sys
import time

from tests.servers import ROOT, free_port


def test_it_runs_gunicorns_own_threaded_worker(monkeypatch):
    monkeypatch.setenv("GUNICORN_THREADS", "8")
    config = runpy.run_path(str(ROOT / "config" / "gunicorn.py"))
    assert config["worker_class"] == "gthread"
    assert config["threads"] == 8
    assert 0 < config["keepalive"] <= 2


@contextlib.contextmanager
def slow_app(workers: int, threads: int, **extra_env: str):
    port = free_port()
    env = {
        **os.environ,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_THREADS": str(threads),
        **extra_env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "tests.slow_wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "gunicorn exited while starting"
            assert time.monotonic() < deadline, "gunicorn did not start within 30 s"
            with contextlib.suppress(OSError):
                get(port, "/")
                break
            time.sleep(0.05)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def get(port: int, path: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("GET", path)
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def test_a_worker_leaves_what_it_loaded_at_start_out_of_garbage_collection():
    with slow_app(workers=1, threads=2) as port:
        frozen = get(port, "/gc")
    # The app and gunicorn's own modules (the test app is small; Django's are ~90,000).
    assert int(frozen) > 10_000


def test_it_empties_the_metrics_folder_of_an_earlier_run(tmp_path):
    stale = tmp_path / "counter_12345.db"
    stale.write_bytes(b"counts of a run that ended")
    with slow_app(workers=1, threads=2, PROMETHEUS_MULTIPROC_DIR=str(tmp_path)):
        assert not stale.exists()
