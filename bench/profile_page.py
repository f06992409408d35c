"""Where a signed-in lesson page's time goes: cProfile of N in-process renders.

    uv run python bench/profile_page.py [--lesson <track>/<slug>] [--requests 200] [--top 30]
    uv run python bench/profile_page.py --full-render     # as before page shells

Prepares the site as `serve` does, makes the learner of bench/history.py, then requests the
lesson page N times with Django's test client (DEBUG off, no HTTP), and prints the time per
request, the SQL queries of one request and the functions that took the most time
(cumulative), as cProfile sees them.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret-" + "x" * 40)
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("REQUEST_LOG_LEVEL", "WARNING")

import history  # noqa: E402  (bench/ is on sys.path when run as a script)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lesson", help="<track>/<slug> (default: the longest lesson)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--full-render",
        action="store_true",
        help="render every page in full (LESSON_PAGE_CACHE_SECONDS=0), not from a shell",
    )
    args = parser.parse_args()
    os.environ["LESSON_PAGE_CACHE_SECONDS"] = "0" if args.full_render else "1"
    os.environ.setdefault("STATIC_ROOT", tempfile.mkdtemp(prefix="querylab-profile-static-"))
    history.setup_django()
    from django.core.management import call_command
    from django.db import connection

    # As `manage.py serve` prepares the site (a fresh checkout has none of it yet).
    for command in (["migrate"], ["createcachetable"], ["content", "sync"]):
        call_command(*command, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    from django.test import Client

    lesson = args.lesson or history.default_lesson()
    session = history.make_history(lesson)[0]
    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies["sessionid"] = session
    path = f"/learn/{lesson}/"
    for _ in range(10):
        assert client.get(path).status_code == 200
    queries: list[str] = []

    def record(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        size = len(client.get(path).content)
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    for _ in range(args.requests):
        client.get(path)
    profile.disable()
    elapsed = time.perf_counter() - start
    print(f"{path}: {size:,} bytes, {1000 * elapsed / args.requests:.1f} ms per request")
    print(f"{len(queries)} queries:")
    for query in queries:
        print("  ", " ".join(query.split())[:160])
    pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
    pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
