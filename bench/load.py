"""A class of learners at once: prints throughput, p50/p95/p99 per action and errors.

    uv run python bench/load.py [--learners 100] [--seconds 120] [--workers N] [--threads N]

It starts gunicorn (config/gunicorn.py, DEBUG=0) on a free port of 127.0.0.1 against the
configured databases, then runs simulated learners — signed-out visitors and signed-in members,
most of them signed in as on a real course site, where most page views come from learners who
came back — for the given time. Learners arrive over the first 30 s (`--arrival`); members
come back with the session of an earlier log-in, and one in five logs in during the run
(`--log-ins`). Each learner, after a think time, reads a lesson or the track page (signed in,
also their progress or review page), answers a quiz question, runs SQL in a sandbox (ordinary,
slow and hostile queries) or, signed in, posts in a discussion now and then.
Signed-in page views are reported apart from the visitors'. Afterwards it checks that nothing
leaked: no app-database or sandbox-server connections of the stopped server remain and no
half-made sandbox is left.

It uses its own sandbox name prefix ("qll") and removes its sandboxes, posts and users at the
end. Only 127.0.0.1; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench import client  # noqa: E402
from bench.client import free_port, pct  # noqa: E402

BENCH_ENV = {
    "SANDBOX_NAME_PREFIX": "qll",
    "DEBUG": "0",
    "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
    "ALLOWED_HOSTS": "127.0.0.1",
}
os.environ.update(BENCH_ENV)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
BENCH_DATABASE = "querylab_loadbench"


def use_a_database_of_its_own() -> str:
    """Point DATABASE_URL at a fresh database on the configured app server, so the bench's
    learners, sessions and sandbox records never mix with development data."""
    import psycopg

    from config.infra import embedded

    base = os.environ.get("DATABASE_URL") or embedded.server("app").ensure()
    admin = urlsplit(base)._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DATABASE}")
    os.environ["DATABASE_URL"] = urlsplit(base)._replace(path=f"/{BENCH_DATABASE}").geturl()
    return admin


MEMBER_PASSWORD = "load-bench-password-42"
ORDINARY_SQL = [
    "SELECT 1",
    "SELECT count(*) FROM pg_class WHERE relnamespace = current_schema()::regnamespace",
    "SELECT g, g * g FROM generate_series(1, 50) AS g",
]
SLOW_SQL = ["SELECT pg_sleep(1.5)", "SELECT count(*) FROM generate_series(1, 3000000)"]
HOSTILE_SQL = [
    "SELECT pg_sleep(60)",  # cancelled at the statement timeout
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
    "COPY (SELECT 1) TO PROGRAM 'id'",
    "SET ROLE postgres",
    "SELECT * FROM generate_series(1, 5000000)",  # stopped at the row cap
    "CREATE EXTENSION dblink",
    "SELECT pg_advisory_lock(1)",
    "ALTER ROLE CURRENT_USER PASSWORD 'x'",
]


PAGE_VIEWS = {"lesson page", "track page", "progress page", "review page"}
SIGNED_IN = " (signed in)"


class Browser(client.Browser):
    """A browser that can also log in as one of the bench's members."""

    def log_in(self, username: str) -> None:
        self.request("GET", "/accounts/login/")
        status, _ = self.form(
            "/accounts/login/", {"username": username, "password": MEMBER_PASSWORD, "next": "/"}
        )
        if status != 302:
            raise RuntimeError(f"log-in of {username} answered {status}")


def learner(
    port: int,
    plan: dict,
    seconds: float,
    seed: int,
    member: tuple[str, str] | None,
    results: list,
) -> None:
    """One simulated learner's session; appends (action, status, ms) to results. A member
    (username, session key) comes back with the session of an earlier log-in, or, one in
    `plan["log_ins"]`, logs in now (a new device, an expired session)."""
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    # Learners arrive over the first `arrival` seconds, as a class does, not all at once:
    # a log-in is ~0.3 s of password hashing (PBKDF2), 70 at once keep 2 cores busy for 10 s.
    time.sleep(rng.uniform(0, plan["arrival"]))
    browser = Browser(port)
    logs_in = member is not None and rng.random() < plan["log_ins"]
    if member and not logs_in:
        browser.cookies["sessionid"] = member[1]
    browser.request("GET", "/")  # a first page, as a browser would: session and CSRF cookies
    if member and logs_in:
        started = time.perf_counter()
        browser.log_in(member[0])
        results.append(("log in", 302, (time.perf_counter() - started) * 1000))
    next_post = time.monotonic() + rng.uniform(10, 240)  # then every 2-5 min (70: one in 3 s)
    # A learner works through one lesson for a while (reads it, answers, runs SQL in its
    # sandbox) and now and then moves on to another, as a class does.
    lesson = rng.choice(plan["lessons"])
    sandbox_lesson = rng.choice(plan["sandbox_lessons"])
    ran_in: set[str] = set()
    while time.monotonic() < deadline:
        time.sleep(rng.uniform(*plan["think"]))
        roll = rng.random()
        started = time.perf_counter()
        if member and time.monotonic() >= next_post:
            next_post = time.monotonic() + rng.uniform(120, 300)
            action = "post"
            status, _ = browser.form(
                f"/learn/{lesson}/discussion/new/",
                {
                    "title": f"Load question {seed}-{started:.0f}",
                    "body": f"Does this index help here? Asked at {started:.3f}.",
                },
            )
        elif roll < 0.45:
            if rng.random() < plan["switch"]:
                lesson = rng.choice(plan["lessons"])
                if lesson in plan["sandbox_lessons"]:
                    sandbox_lesson = lesson
            action = "lesson page"
            status, _ = browser.request("GET", f"/learn/{lesson}/")
        elif roll < 0.55:
            action, path = rng.choice(plan["member_pages" if member else "visitor_pages"])
            status, _ = browser.request("GET", path)
        elif roll < 0.70:
            action = "quiz answer"
            path, choice = rng.choice(plan["quiz"])
            status, _ = browser.form(path, {"choice": choice})
        else:
            kind = rng.random()
            if sandbox_lesson not in ran_in:
                action, sql = "sandbox first run", rng.choice(ORDINARY_SQL)
            elif kind < 0.7:
                action, sql = "sandbox run", rng.choice(ORDINARY_SQL)
            elif kind < 0.85:
                action, sql = "sandbox slow", rng.choice(SLOW_SQL)
            else:
                action, sql = "sandbox hostile", rng.choice(HOSTILE_SQL)
            body = json.dumps({"lesson": sandbox_lesson, "sql": sql}).encode()
            status, _ = browser.request("POST", "/api/sandbox/run", body, "application/json")
            if status == 200:
                ran_in.add(sandbox_lesson)
        action += SIGNED_IN if member and action in PAGE_VIEWS else ""
        results.append((action, status, (time.perf_counter() - started) * 1000))


def process_main(port, plan, seconds, learners, members, first_seed, queue) -> None:
    results: list = []
    threads = [
        threading.Thread(
            target=learner,
            args=(
                port,
                plan,
                seconds,
                first_seed + i,
                members[i] if i < len(members) else None,
                results,
            ),
        )
        for i in range(learners)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    queue.put(results)


def backends(url: str, where: str, params: list) -> int:
    """How many backends match, naming each (they are leaks: the server has stopped)."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT pid, usename, application_name, state, left(query, 60) FROM pg_stat_activity "
            f"WHERE pid <> pg_backend_pid() AND {where}",
            params,
        ).fetchall()
    for row in rows:
        print(f"  left behind: {row}")
    return len(rows)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument(
        "--members",
        type=int,
        help="how many learners are signed in (default: 70 %% of them, as on a course site "
        "where most page views come from learners who came back)",
    )
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--server-log", help="also write the server's log to this file")
    parser.add_argument(
        "--think",
        default="2,8",
        help="seconds a learner waits between two actions, drawn from this range (default 2,8)",
    )
    parser.add_argument(
        "--arrival",
        type=float,
        default=30,
        help="learners arrive over this many seconds at the start (default 30)",
    )
    parser.add_argument(
        "--log-ins",
        type=float,
        default=0.2,
        help="share of the members who log in during the run; the others come back with the "
        "session of an earlier log-in (default 0.2)",
    )
    parser.add_argument(
        "--switch",
        type=float,
        default=0.1,
        help="chance that a page view moves the learner on to another lesson (default 0.1)",
    )
    args = parser.parse_args()
    if args.members is None:
        args.members = round(0.7 * args.learners)
    args.think = tuple(float(part) for part in args.think.split(","))
    return args


def prepare_site() -> None:
    """As `manage.py serve` does: schema, cache table, lessons, static files and a full warm
    pool of pre-seeded sandboxes."""
    from django.core.management import call_command

    from sandbox import servers as sandbox_servers
    from sandbox.models import Sandbox

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    call_command("content", "sync", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    pool_started = time.monotonic()
    servers = range(len(sandbox_servers.sandbox_urls()))
    pooled = sum(Sandbox.objects.refill_pool(server) for server in servers)
    print(f"warm pool: {pooled} sandboxes made in {time.monotonic() - pool_started:.1f} s")


def make_plan(args: argparse.Namespace) -> dict:
    """What the learners visit: every published lesson, the sandbox lessons, a quiz answer
    per question, the member-only pages."""
    from lessons.models import Lesson, QuizQuestion

    lessons = list(Lesson.objects.published().select_related("track"))
    return {
        "think": args.think,
        "switch": args.switch,
        "arrival": args.arrival,
        "log_ins": args.log_ins,
        "lessons": [lesson.ref for lesson in lessons],
        "visitor_pages": [("track page", "/learn/postgresql/")],
        "member_pages": [
            ("track page", "/learn/postgresql/"),
            ("progress page", "/progress/"),
            ("review page", "/review/"),
        ],
        "sandbox_lessons": [x.ref for x in lessons if x.mode == "sql_sandbox" and not x.fixture]
        or [x.ref for x in lessons if x.mode == "sql_sandbox"],
        "quiz": [
            (f"/learn/{q.lesson.ref}/quiz/{q.key}/", choice.key)
            for q in QuizQuestion.objects.filter(lesson__in=lessons)
            .select_related("lesson__track")
            .prefetch_related("choices")
            for choice in list(q.choices.all())[:1]
        ],
    }


def make_members(count: int) -> list[tuple[str, str]]:
    """The members' usernames, each with the session of an earlier log-in: a member comes
    back signed in (sessions last SESSION_COOKIE_AGE, 30 days), as most do on a course site."""
    from django.contrib.auth.models import User
    from django.test import Client
    from django.utils import timezone

    members = []
    for name in [f"load-member-{i}" for i in range(count)]:
        user, _ = User.objects.get_or_create(username=name)
        user.set_password(MEMBER_PASSWORD)
        # Older than a day, so the first-day posting limits do not apply to the bench.
        user.date_joined = timezone.now() - timedelta(days=2)
        user.save()
        browser = Client()
        browser.force_login(user)
        members.append((name, browser.cookies["sessionid"].value))
    return members


def wait_for_port(port: int) -> None:
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)


def run_learners(
    args: argparse.Namespace, port: int, plan: dict, members: list[tuple[str, str]]
) -> tuple[list, float]:
    """The learners in ``args.processes`` client processes; their results and the time."""
    queue: multiprocessing.Queue = multiprocessing.Queue()
    per_process = -(-args.learners // args.processes)
    processes = []
    for index in range(args.processes):
        count = min(per_process, args.learners - index * per_process)
        if count <= 0:
            break
        mine = members[index * per_process : index * per_process + count]
        processes.append(
            multiprocessing.Process(
                target=process_main,
                args=(port, plan, args.seconds, count, mine, index * per_process, queue),
            )
        )
    started = time.monotonic()
    for process in processes:
        process.start()
    results = []
    for _ in processes:
        results.extend(queue.get(timeout=args.seconds + 300))
    for process in processes:
        process.join(30)
    return results, time.monotonic() - started


def serve_and_load(args: argparse.Namespace, plan: dict, members: list[tuple[str, str]]) -> tuple:
    """Start gunicorn, warm every lesson page once (as a running site would be), run the
    learners, stop gunicorn. Returns the results, the time they took and the server's log."""
    from django.conf import settings

    port = free_port()
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    # Open for the whole run: gunicorn writes to it until it stops.
    with tempfile.TemporaryFile("w+", prefix="querylab-load-", suffix=".log") as server_log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(BASE_DIR / "config/gunicorn.py")],
            env=env,
            cwd=BASE_DIR,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(port)
            warm = Browser(port)
            for ref in plan["lessons"]:
                warm.request("GET", f"/learn/{ref}/")
            print(
                f"Querylab load bench · {args.learners} learners ({args.members} signed in) · "
                f"{args.seconds:.0f} s, arriving over {args.arrival:g} s · think "
                f"{args.think[0]:g}–{args.think[1]:g} s, lesson switch {args.switch:g} · "
                f"gunicorn on 127.0.0.1:{port} "
                f"(WEB_CONCURRENCY={os.environ.get('WEB_CONCURRENCY', 'default')}, "
                f"GUNICORN_THREADS={os.environ.get('GUNICORN_THREADS', 'default')}, "
                f"DB_POOL_MAX={settings.DB_POOL_MAX}) · {os.cpu_count()} CPUs · "
                f"load average {os.getloadavg()[0]:.1f}"
            )
            results, elapsed = run_learners(args, port, plan, members)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
        server_log.seek(0)
        return results, elapsed, server_log.read()


def report(results: list, elapsed: float) -> None:
    """Per action: count, p50/p95/p99 and statuses; then the 5xx count and the page views of
    signed-in learners and of visitors."""
    by_action: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for action, status, ms in results:
        by_action[action].append((status, ms))
    print(f"\n{len(results)} requests in {elapsed:.1f} s = {len(results) / elapsed:.1f} req/s")
    print(f"{'action':<29}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}  statuses")
    for action in sorted(by_action):
        rows = by_action[action]
        times = [ms for _, ms in rows]
        statuses = defaultdict(int)
        for status, _ in rows:
            statuses[status] += 1
        status_text = " ".join(f"{s}×{n}" for s, n in sorted(statuses.items()))
        print(
            f"{action:<29}{len(rows):>7}{pct(times, 50):>9.1f}{pct(times, 95):>9.1f}"
            f"{pct(times, 99):>9.1f}  {status_text}"
        )
    server_errors = sum(1 for _, status, _ in results if status >= 500)
    visitors = [ms for action, _, ms in results if action in PAGE_VIEWS]
    signed_in = [ms for action, _, ms in results if action.endswith(SIGNED_IN)]
    print(f"\n5xx responses: {server_errors}   (goal 0)")
    for label, views, goal in (
        ("signed-in learners", signed_in, "   (goal < 300 ms)"),
        ("visitors", visitors, ""),
    ):
        if views:
            print(
                f"page views of {label}: {len(views)}, p50 {pct(views, 50):.1f} ms, "
                f"p99 {pct(views, 99):.1f} ms{goal}"
            )


def app_database_url() -> str:
    from django.conf import settings

    return "postgresql://{USER}:{PASSWORD}@{HOST}:{PORT}/{NAME}".format(
        **{
            k: settings.DATABASES["default"].get(k) or ""
            for k in ("USER", "PASSWORD", "HOST", "PORT", "NAME")
        }
    )


def check_leaks() -> None:
    """The server is stopped, so none of its connections may remain, nor a half-made sandbox
    or a schema without its record. This process's own connections (it filled the warm pool)
    are closed first."""
    from django.db import connection

    from sandbox import connections, roles
    from sandbox import servers as sandbox_servers
    from sandbox.models import Sandbox

    connection.close()
    connection.close_pool()
    connections.close_pools()
    time.sleep(2)
    app_left = backends(
        app_database_url(), "application_name = %s AND datname = current_database()", ["querylab"]
    )
    sandbox_left = backends(
        sandbox_servers.sandbox_urls()[0],
        "usename LIKE %s",
        [f"{sandbox_servers.name_prefix()}%"],
    )
    connection.close()
    mine = Sandbox.objects.filter(name__startswith=sandbox_servers.name_prefix())
    half_made = mine.filter(state__in=[Sandbox.State.PROVISIONING, Sandbox.State.DROPPING]).count()
    recorded = set(mine.values_list("name", flat=True))
    orphans = roles.existing_names(0) - recorded
    print(
        f"app-database connections left: {app_left}   sandbox-server backends left: "
        f"{sandbox_left}   half-made sandboxes: {half_made}   orphaned schemas: {len(orphans)}"
    )


def report_server_log(log_text: str) -> None:
    """The server's own time for page views (from its request log), next to what learners
    waited: the difference is time spent queued for a process, a thread or the GIL. Then the
    tracebacks it logged."""
    served = []
    for line in log_text.splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            path = entry.get("path", "")
            if entry.get("method") == "GET" and path.startswith("/learn/") and "ms" in entry:
                served.append(entry["ms"])
    if served:
        print(
            f"page views as the server timed them: p50 {pct(served, 50):.1f} ms, "
            f"p99 {pct(served, 99):.1f} ms ({len(served)} requests)"
        )
    tracebacks = len(re.findall(r"Traceback", log_text))
    print(f"tracebacks in the server's log: {tracebacks}")
    if tracebacks:
        first = log_text.index("Traceback")
        print(log_text[first : first + 6000].replace("\\n", "\n")[-2500:])


def tidy_up(admin_url: str) -> None:
    """The bench's sandboxes (their own name prefix), then its database."""
    import psycopg
    from django.db import connection

    from sandbox import roles
    from sandbox import servers as sandbox_servers
    from sandbox.models import Sandbox

    Sandbox.objects.filter(name__startswith=sandbox_servers.name_prefix()).delete()
    roles.remove_installation(0)
    connection.close_pool()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")


def main() -> None:
    args = parse_args()
    admin_url = use_a_database_of_its_own()

    import django

    from config.infra import embedded

    embedded.prepare()  # the embedded sandbox server, unless SANDBOX_DATABASE_URL is set
    django.setup()
    prepare_site()
    plan = make_plan(args)
    members = make_members(args.members)
    results, elapsed, log_text = serve_and_load(args, plan, members)
    report(results, elapsed)
    check_leaks()
    if args.server_log:
        Path(args.server_log).write_text(log_text)
    report_server_log(log_text)
    tidy_up(admin_url)


if __name__ == "__main__":
    main()
