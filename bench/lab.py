"""Django ORM lab benchmark: prints figures, asserts nothing. Only 127.0.0.1, bounded loops.

    uv run python bench/lab.py [--quick]

It starts a lab worker (sandbox/lab/launch.py: bubblewrap where installed, a uid per run as
root) and gunicorn (config/gunicorn.py) on a free local port against the configured databases,
uses a bench-only name prefix ("qll") and a "bench-lab" track it removes afterwards, and prints:

1. p50/p99 of a one-query lab run (POST /api/lab/run, ``Author.objects.get(pk=7)``) next to
   the same SQL (the statement that run sent) through POST /api/sandbox/run, for the same learner
   and sandbox, interleaved request by request; the difference at p50 (goal ≤ 15 ms);
2. lab runs per second with 20 concurrent learners for 10 s, and the error count
   (goal ≥ 100/s, no errors); and the CPU time the web server (gunicorn) and the lab worker
   (with its keepers and runs) used per run meanwhile: on a machine shared with other work the
   rate says little, the CPU per run much more (two cores give 2,000 ms a second).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
SOCKET = Path(tempfile.mkdtemp(prefix="querylab-bench-lab-")) / "worker.sock"
# The lesson's fixture with a line of its own, so that its digest is the bench's: warm
# sandboxes a development server left in the same app database are never claimed here.
FIXTURES = Path(tempfile.mkdtemp(prefix="querylab-bench-lab-fixtures-"))
(FIXTURES / "library.sql").write_text(
    (BASE_DIR / "content" / "fixtures" / "library.sql").read_text() + "\n-- bench/lab.py\n"
)
BENCH_ENV = {
    "SANDBOX_NAME_PREFIX": "qll",
    "SANDBOX_FIXTURES_DIR": str(FIXTURES),
    "LAB_MODELS_DIR": str(BASE_DIR / "content" / "models"),
    "LAB_WORKER_SOCKET": str(SOCKET),
    # The throughput figure measures the machinery, not the per-learner limit (60 a minute).
    "SANDBOX_RUNS_PER_MINUTE": "1000000",
    "SANDBOX_WARM_POOL_SIZE": "0",
    "DEBUG": "0",
    "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
}
os.environ.update(BENCH_ENV)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from bench.client import (  # noqa: E402
    Browser,
    RawJsonPoster,
    concurrent_runs,
    free_port,
    line,
    pct,
)
from lessons.models import Lesson, Track  # noqa: E402
from sandbox import roles  # noqa: E402
from sandbox.lab import launch  # noqa: E402
from sandbox.models import Sandbox  # noqa: E402

CODE = "Author.objects.get(pk=7)"
LESSON = "bench-lab/library"


class Learner(Browser):
    def __init__(self, port: int):
        super().__init__(port, timeout=30)
        self.request("GET", "/")
        self.lab = self.sql = None

    def post(self, path: str, payload: dict) -> tuple[int, dict]:
        status, data = self.request("POST", path, json.dumps(payload).encode(), "application/json")
        return status, json.loads(data)

    def lean(self) -> None:
        self.lab = RawJsonPoster(self, "/api/lab/run")
        self.sql = RawJsonPoster(self, "/api/sandbox/run")

    def timed(self, poster: RawJsonPoster, payload: dict) -> float:
        body = json.dumps(payload).encode()
        started = time.perf_counter()
        status, data = poster.post(body)
        took = (time.perf_counter() - started) * 1000
        if status != 200 or not json.loads(data).get("ok"):
            raise RuntimeError(f"run failed: {status} {data[:300]!r}")
        return took


def latency(port: int, samples: int) -> tuple[list[float], list[float], str]:
    learner = Learner(port)
    status, answer = learner.post("/api/lab/run", {"lesson": LESSON, "code": CODE})
    if status != 200 or not answer["ok"]:
        raise RuntimeError(f"first lab run failed: {status} {answer}")
    (query,) = answer["queries"]
    sql = query["sql"]
    learner.lean()
    lab_payload = {"lesson": LESSON, "code": CODE}
    sql_payload = {"lesson": LESSON, "sql": sql}
    for _ in range(20):
        learner.timed(learner.lab, lab_payload)
        learner.timed(learner.sql, sql_payload)
    lab, plain = [], []
    for sample in range(samples):
        if sample % 2:
            lab.append(learner.timed(learner.lab, lab_payload))
            plain.append(learner.timed(learner.sql, sql_payload))
        else:
            plain.append(learner.timed(learner.sql, sql_payload))
            lab.append(learner.timed(learner.lab, lab_payload))
    return lab, plain, sql


ERROR_KINDS: Counter[str] = Counter()


def tree_cpu(root: int) -> float:
    """CPU seconds used so far by process ``root`` and its descendants: those running, and
    those that ended and were waited for by one of them."""
    parents, used = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        used[int(entry)] = sum(int(value) for value in fields[11:15])  # utime … cstime
    tree, grown = {root}, True
    while grown:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grown = bool(more)
    return sum(used.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


def throughput(
    port: int, learners: int, seconds: float, pids: tuple[int, ...]
) -> tuple[float, int, int, list[float]]:
    """(runs a second, runs, errors, CPU ms per run of each process tree in ``pids``)."""
    people = [Learner(port) for _ in range(learners)]
    for person in people:
        status, answer = person.post("/api/lab/run", {"lesson": LESSON, "code": CODE})
        if status != 200 or not answer["ok"]:
            raise RuntimeError(f"first lab run failed: {status} {answer}")
        person.lean()
    body = json.dumps({"lesson": LESSON, "code": CODE}).encode()

    def one_run(person) -> tuple[int, dict]:
        status, data = person.lab.post(body)
        return status, json.loads(data)

    cpu_before = [tree_cpu(pid) for pid in pids]
    rate, done, errors = concurrent_runs(people, seconds, one_run, ERROR_KINDS)
    cpu = [
        (tree_cpu(pid) - before) * 1000 / max(done, 1)
        for pid, before in zip(pids, cpu_before, strict=True)
    ]
    return rate, done, errors, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer samples, 3 s of load")
    parser.add_argument("--learners", type=int, default=20)
    args = parser.parse_args()
    track = prepare()
    worker = launch.start_worker(SOCKET, Path(settings.LAB_MODELS_DIR))
    port = free_port()
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(BASE_DIR / "config/gunicorn.py")],
        env=env,
        cwd=BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        isolation = "bubblewrap" if launch.bwrap_available() else "no bubblewrap"
        print(
            f"Querylab lab bench · gunicorn on 127.0.0.1:{port} · lab worker ({isolation}, "
            f"{'a uid per run' if os.geteuid() == 0 else 'no uid change'}) · {os.cpu_count()} "
            f"CPUs · load average {os.getloadavg()[0]:.1f} · Django {django.get_version()}"
        )
        report_latency(port, 100 if args.quick else 500)
        report_throughput(port, args.learners, 3 if args.quick else 10, (server.pid, worker.pid))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        launch.stop_worker(worker)
        Sandbox.objects.filter(lesson__track=track).delete()
        track.delete()
        roles.remove_installation(0)


def prepare() -> Track:
    """The app database migrated, and the bench's track with its one lab lesson."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    track, _ = Track.objects.get_or_create(slug="bench-lab", defaults={"title": "Bench lab"})
    Lesson.objects.update_or_create(
        track=track,
        slug="library",
        defaults={
            "step": 1,
            "title": "Library",
            "mode": "django_lab",
            "fixture": "library.sql",
            "lab_models": "library",
        },
    )
    return track


def report_latency(port: int, samples: int) -> None:
    print(f"\n1. One-query lab run vs the same SQL through /api/sandbox/run ({samples} each)")
    lab, plain, sql = latency(port, samples)
    print(f"  code: {CODE}")
    print(f"  sql:  {sql}")
    print(line("POST /api/sandbox/run (the SQL)", plain))
    print(line("POST /api/lab/run (the code)", lab))
    gap = pct(lab, 50) - pct(plain, 50)
    print(f"  {'lab minus SQL at p50':<34} {gap:7.2f} ms   (goal ≤ 15 ms)")


def report_throughput(port: int, learners: int, seconds: float, pids: tuple[int, int]) -> None:
    print(f"\n2. Throughput, {learners} concurrent learners, lab runs for {seconds} s")
    rate, done, errors, (web, lab) = throughput(port, learners, seconds, pids)
    print(f"  {rate:8.1f} lab runs/s   {done} runs   {errors} errors   (goal ≥ 100/s, no errors)")
    print(f"  CPU per run: web {web:.1f} ms, lab worker {lab:.1f} ms")
    for kind, n in ERROR_KINDS.most_common():
        print(f"  error ×{n}: {kind}")
    print(f"  load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
