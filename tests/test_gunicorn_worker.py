"""config/gunicorn_worker.py: a process whose threads are all busy leaves new connections to
another process, instead of queueing them behind its own requests (gunicorn's own gthread
worker accepts whatever it can)."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tests.servers import ROOT, free_port


@contextlib.contextmanager
def slow_app(workers: int, threads: int):
    port = free_port()
    env = {
        **os.environ,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_THREADS": str(threads),
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
        pids: set[str] = set()
        # Ready once every worker has answered at least once.
        while len(pids) < workers:
            assert process.poll() is None, "gunicorn exited while starting"
            assert time.monotonic() < deadline, "gunicorn did not start within 30 s"
            with contextlib.suppress(OSError):
                pids.add(get(port, "/")[0])
            time.sleep(0.05)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def get(port: int, path: str) -> tuple[str, float]:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("GET", path)
        return conn.getresponse().read().decode(), time.monotonic() - started
    finally:
        conn.close()


def test_a_busy_process_leaves_new_connections_to_an_idle_one():
    with slow_app(workers=3, threads=2) as port:
        # Six slow requests at once, on six connections: three processes of two threads each
        # can run them all at once only if none takes a third. Three bursts, so that an
        # even spread by luck (which gunicorn's own worker manages now and then) is not enough.
        for _ in range(3):
            with ThreadPoolExecutor(6) as pool:
                answers = list(pool.map(lambda _: get(port, "/?seconds=1"), range(6)))
            per_process = Counter(pid for pid, _ in answers)
            assert sorted(per_process.values()) == [2, 2, 2], per_process
            # None waited behind another for a thread (that would take 2 s or more).
            assert max(seconds for _, seconds in answers) < 1.9, answers


def test_a_worker_leaves_what_it_loaded_at_start_out_of_garbage_collection():
    with slow_app(workers=1, threads=2) as port:
        frozen, _ = get(port, "/gc")
    # The app and gunicorn's own modules (the test app is small; Django's are ~90,000).
    assert int(frozen) > 10_000
