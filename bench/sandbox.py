"""Sandbox benchmark: prints figures, asserts nothing. Only 127.0.0.1, bounded loops.

    uv run python bench/sandbox.py [--quick] [--skip-janitor]

It starts gunicorn (config/gunicorn.py) on a free local port against the configured databases,
uses a bench-only name prefix ("qlb") and a "bench" track it removes afterwards, and prints:

1. API p50/p99 of POST /api/sandbox/run for `SELECT 1` and a ~20 ms query, beside the same
   queries run with psycopg on an open connection (the floor), the three interleaved request by
   request so that they meet the same moments of a shared machine. The API is timed through a lean
   HTTP client (``bench.client.RawJsonPoster``), as the floor is timed through libpq, and also
   through Python's http.client, as in figures before 2026-12-05 (its own CPU, 0.3-0.6 ms a
   request here, counts as overhead there);
2. first-run latency in a new sandbox, with and without the warm pool, for a 100,000-row fixture;
3. runs per second with 50 concurrent learners, and the error count;
4. the janitor removing 10,000 expired sandboxes, with run latency before and after.
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
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
FIXTURE_DIR = Path(tempfile.mkdtemp(prefix="querylab-bench-"))
(FIXTURE_DIR / "bench100k.sql").write_text(
    "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2));\n"
    "INSERT INTO items SELECT g, 'item ' || g, g % 997 FROM generate_series(1, 100000) g;\n"
    "ANALYZE items;\n"
)
BENCH_ENV = {
    "SANDBOX_NAME_PREFIX": "qlb",
    "SANDBOX_FIXTURES_DIR": str(FIXTURE_DIR),
    # The throughput figure measures the machinery, not the per-learner limit (60 a minute).
    "SANDBOX_RUNS_PER_MINUTE": "1000000",
    "SANDBOX_WARM_POOL_SIZE": "0",  # the bench fills the pool itself, to measure both cases
    # As in production: DEBUG=1 would record every SQL query of every request.
    "DEBUG": "0",
    "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
}
os.environ.update(BENCH_ENV)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

from config.infra import embedded  # noqa: E402

embedded.prepare()  # the embedded servers of unset URLs; the settings only read where they are
django.setup()

import psycopg  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402
from psycopg import sql  # noqa: E402

from bench.client import (  # noqa: E402
    Browser,
    RawJsonPoster,
    concurrent_runs,
    free_port,
    line,
    pct,
)
from lessons.models import Learner as LearnerRow  # noqa: E402
from lessons.models import Lesson, Track  # noqa: E402
from sandbox import roles, servers  # noqa: E402
from sandbox.models import Sandbox  # noqa: E402

TWENTY_MS = "SELECT pg_sleep(0.02)"


class Learner(Browser):
    """One signed-out learner on a sandbox lesson: cookies and CSRF token from its first page."""

    def __init__(self, port: int, lesson: str):
        super().__init__(port, timeout=30)
        self.lesson = lesson
        self.request("GET", f"/sandbox/{lesson}/")

    def run(self, query: str) -> tuple[int, dict]:
        body = json.dumps({"lesson": self.lesson, "sql": query}).encode()
        status, data = self.request("POST", "/api/sandbox/run", body, "application/json")
        return status, json.loads(data)

    def timed_run(self, query: str) -> float:
        started = time.perf_counter()
        status, answer = self.run(query)
        took = (time.perf_counter() - started) * 1000
        if status != 200 or not answer.get("ok"):
            raise RuntimeError(f"run failed: {status} {answer}")
        return took

    def lean(self) -> RawJsonPoster:
        """The same learner (session, CSRF token) on a lean client of its own: call it once
        the session exists, i.e. after a first run."""
        return RawJsonPoster(self, "/api/sandbox/run")

    def timed_lean_run(self, poster: RawJsonPoster, query: str) -> float:
        body = json.dumps({"lesson": self.lesson, "sql": query}).encode()
        started = time.perf_counter()
        status, data = poster.post(body)
        took = (time.perf_counter() - started) * 1000
        if status != 200 or not json.loads(data).get("ok"):
            raise RuntimeError(f"run failed: {status} {data[:200]!r}")
        return took


def latency(learner: Learner, queries: int) -> dict[tuple[str, str], list[float]]:
    """Each query run ``queries`` times three ways, interleaved so that all three meet the same
    moments of the machine: psycopg on an open connection to the sandbox server (the floor),
    the API through the lean client, and the API through http.client (the earlier figures)."""
    for _ in range(20):
        learner.timed_run("SELECT 1")  # warm the worker processes' connections
    poster = learner.lean()
    for _ in range(20):
        learner.timed_lean_run(poster, "SELECT 1")
    out: dict[tuple[str, str], list[float]] = {}
    with psycopg.connect(servers.sandbox_urls()[0], autocommit=True) as conn:

        def direct(query: str) -> float:
            started = time.perf_counter()
            conn.execute(query).fetchall()
            return (time.perf_counter() - started) * 1000

        ways = {
            "floor": direct,
            "lean": lambda query: learner.timed_lean_run(poster, query),
            "http.client": learner.timed_run,
        }
        for label, query in (("SELECT 1", "SELECT 1"), ("~20 ms", TWENTY_MS)):
            for way in ways:
                out[way, label] = []
            for sample in range(queries):
                order = list(ways)[sample % 3 :] + list(ways)[: sample % 3]
                for way in order:
                    out[way, label].append(ways[way](query))
    return out


def first_runs(port: int, lesson: str, count: int, warm: bool) -> list[float]:
    if warm:
        with override_settings(SANDBOX_WARM_POOL_SIZE=count):
            Sandbox.objects.refill_pool(0, ["bench100k.sql"])
    times = []
    for _ in range(count):
        learner = Learner(port, lesson)
        times.append(learner.timed_run("SELECT * FROM items ORDER BY id LIMIT 10"))
    return times


def cpu_seconds(parent: int) -> float:
    """CPU time (user + system) used so far by a process's children: the gunicorn workers."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


ERROR_KINDS: Counter[str] = Counter()  # what the throughput phase's errors were


def throughput(port: int, lesson: str, learners: int, seconds: float) -> tuple[float, int, int]:
    people = [Learner(port, lesson) for _ in range(learners)]
    for person in people:
        person.timed_run("SELECT 1")  # each learner's sandbox exists before the clock starts
    return concurrent_runs(people, seconds, lambda person: person.run("SELECT 1"), ERROR_KINDS)


def make_expired(lesson: Lesson, count: int) -> None:
    """Many expired sandboxes shaped like the provisioner's (role, schema owned by the
    provisioner, a table owned by the role, the provisioner a member of the role), made in
    bulk through the superuser connection: the bench measures the janitor, not this."""
    names = [servers.new_sandbox_name() for _ in range(count)]
    provisioner = sql.Identifier(servers.provisioner_name())
    servers.provisioning(0)  # bootstrap
    with psycopg.connect(servers.sandbox_urls()[0], autocommit=True) as conn:
        for start in range(0, count, 1000):
            with conn.transaction():
                for name in names[start : start + 1000]:
                    role = sql.Identifier(name)
                    conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOINHERIT").format(role))
                    conn.execute(
                        sql.SQL("GRANT {} TO {} WITH ADMIN OPTION").format(role, provisioner)
                    )
                    conn.execute(
                        sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(role, provisioner)
                    )
                    conn.execute(
                        sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(role, role)
                    )
                    conn.execute(
                        sql.SQL("CREATE TABLE {}.t (id int PRIMARY KEY, v text)").format(role)
                    )
                    conn.execute(sql.SQL("ALTER TABLE {}.t OWNER TO {}").format(role, role))
    old = timezone.now() - timedelta(days=3)
    # One signed-out visitor each, as real expired sandboxes would be.
    visitors = LearnerRow.objects.bulk_create([LearnerRow() for _ in names], batch_size=1000)
    Sandbox.objects.bulk_create(
        [
            Sandbox(
                name=name,
                learner=visitor,
                lesson=lesson,
                state=Sandbox.State.ACTIVE,
                last_used_at=old,
                created_at=old,
            )
            for name, visitor in zip(names, visitors, strict=True)
        ],
        batch_size=1000,
    )


def _bench_lessons() -> tuple[Track, Lesson]:
    """The bench track: a lesson without a fixture, and one with the 100,000-row fixture."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    track, _ = Track.objects.get_or_create(slug="bench", defaults={"title": "Bench"})
    small, _ = Lesson.objects.update_or_create(
        track=track,
        slug="small",
        defaults={"step": 1, "title": "Small", "mode": "sql_sandbox", "fixture": ""},
    )
    Lesson.objects.update_or_create(
        track=track,
        slug="big",
        defaults={"step": 2, "title": "Big", "mode": "sql_sandbox", "fixture": "bench100k.sql"},
    )
    return track, small


def _start_gunicorn(port: int) -> subprocess.Popen:
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(BASE_DIR / "config/gunicorn.py")],
        env=env,
        cwd=BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    print(
        f"Querylab sandbox bench · gunicorn on 127.0.0.1:{port} · {os.cpu_count()} CPUs · "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"  workers={os.environ.get('WEB_CONCURRENCY', 'default')}  "
        f"sandbox server: PostgreSQL {servers.provisioning(0).version // 10000}"
    )
    return server


def _phase_latency(port: int, samples: int) -> None:
    print("\n1. Latency of one run (API over HTTP vs psycopg on an open connection)")
    api = latency(Learner(port, "bench/small"), samples)
    for label in ("SELECT 1", "~20 ms"):
        print(line(f"floor  {label}", api["floor", label]))
        print(line(f"API    {label}", api["lean", label]))
        print(line(f"API    {label} via http.client", api["http.client", label]))
        overhead = pct(api["lean", label], 50) - pct(api["floor", label], 50)
        through = pct(api["http.client", label], 50) - pct(api["floor", label], 50)
        print(
            f"  {'overhead at p50':<34} {overhead:7.2f} ms   (goal ≤ 5 ms; "
            f"{through:.2f} ms via http.client)"
        )
    late = pct(api["floor", "~20 ms"], 50) - 20
    print(
        f"  the floor's pg_sleep(0.02) came back {late:.2f} ms late: how slowly this machine "
        "wakes a waiting process (0.24-0.57 ms on a quiet host here, 1.2-1.8 ms on a busy "
        "one); an API run waits about eight times, the floor three, so the overhead grows "
        "with it (bench/README.md)"
    )


def _phase_first_runs(port: int) -> None:
    print("\n2. First run in a new sandbox, 100,000-row fixture (20 new learners each)")
    cold = first_runs(port, "bench/big", 20, warm=False)
    warm = first_runs(port, "bench/big", 20, warm=True)
    print(line("without the warm pool", cold))
    print(line("with the warm pool", warm) + "   (goal p50 ≤ 30 ms)")


def _phase_throughput(port: int, server_pid: int, seconds: int) -> None:
    print(f"\n3. Throughput, 50 concurrent learners running SELECT 1 for {seconds} s")
    used = cpu_seconds(server_pid)
    rate, done, errors = throughput(port, "bench/small", 50, seconds)
    used = cpu_seconds(server_pid) - used
    print(f"  {rate:8.1f} runs/s   {done} runs   {errors} errors   (goal ≥ 200/s, 0 errors)")
    for kind, n in ERROR_KINDS.most_common():
        print(f"  error ×{n}: {kind}")
    print(
        f"  web workers used {used * 1000 / max(done, 1):.2f} ms of CPU per run "
        f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )


def _phase_janitor(port: int, small: Lesson, samples: int, expired: int) -> None:
    print(f"\n4. Janitor with {expired:,} expired sandboxes")
    probe = Learner(port, "bench/small")
    before = [probe.timed_run("SELECT 1") for _ in range(samples // 2)]
    started = time.monotonic()
    make_expired(small, expired)
    print(f"  made them in {time.monotonic() - started:.1f} s")
    during = [probe.timed_run("SELECT 1") for _ in range(samples // 2)]
    started = time.monotonic()
    report = Sandbox.objects.sweep()
    took = time.monotonic() - started
    after = [probe.timed_run("SELECT 1") for _ in range(samples // 2)]
    print(f"  janitor dropped {report.expired:,} in {took:.1f} s   (goal < 60 s)")
    print(line("run before they existed", before))
    print(line("run with them present", during))
    print(line("run after the janitor", after))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer samples, 1,000 expired")
    parser.add_argument("--skip-janitor", action="store_true")
    args = parser.parse_args()
    samples = 200 if args.quick else 1000
    expired = 1000 if args.quick else 10_000

    track, small = _bench_lessons()
    port = free_port()
    server = _start_gunicorn(port)
    try:
        _phase_latency(port, samples)
        _phase_first_runs(port)
        _phase_throughput(port, server.pid, 3 if args.quick else 10)
        if not args.skip_janitor:
            _phase_janitor(port, small, samples, expired)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        Sandbox.objects.filter(lesson__track=track).delete()
        Sandbox.objects.filter(fixture="bench100k.sql").delete()
        track.delete()
        roles.remove_installation(0)


if __name__ == "__main__":
    main()
