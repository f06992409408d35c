"""Lesson page vs. a static file of the same size, on one gunicorn server on 127.0.0.1.

    uv run python bench/pages.py [--seconds 10] [--clients 8] [--lesson <track>/<slug>]
    uv run python bench/pages.py --signed-in     # and signed-in learners with a history

Prepares the database and content like `manage.py serve`, renders the lesson once to learn its
size, writes a static file of that size next to the collected static files, starts gunicorn
(config/gunicorn.py, DEBUG=0), then loads the URLs with keep-alive clients in separate processes,
in turn and in several rounds (so that a slow spell of a shared machine falls on every URL, not
on one), and prints requests per second, p50 and p99 latency, and the ratio. The lesson is by
default the longest one in the content (bench/history.py). With --signed-in the same run also
loads the page as signed-in learners with a realistic history (bench/history.py), one learner
per client, and as signed-out visitors with the same history (their session holds it, as after
their first answer). See bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client(
    port: int, path: str, seconds: float, queue: multiprocessing.Queue, cookie: str = ""
) -> None:
    """One keep-alive connection, requesting `path` as fast as it can until time is up."""
    headers = {"Host": "127.0.0.1", **({"Cookie": cookie} if cookie else {})}
    latencies: list[float] = []
    errors = 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    deadline = time.perf_counter() + seconds
    while (start := time.perf_counter()) < deadline:
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            continue
        latencies.append(time.perf_counter() - start)
    connection.close()
    queue.put((latencies, errors))


def load(
    port: int, path: str, seconds: float, clients: int, cookies: list[str] | None = None
) -> tuple[list[float], int]:
    """`clients` processes on `path` for `seconds`; client n sends cookies[n % len(cookies)].
    Returns every request's latency (seconds) and the number of errors."""
    queue: multiprocessing.Queue = multiprocessing.Queue()
    cookies = cookies or [""]
    processes = [
        multiprocessing.Process(
            target=client, args=(port, path, seconds, queue, cookies[n % len(cookies)])
        )
        for n in range(clients)
    ]
    for process in processes:
        process.start()
    latencies: list[float] = []
    errors = 0
    for _ in processes:
        some, failed = queue.get()
        latencies += some
        errors += failed
    for process in processes:
        process.join()
    return latencies, errors


def summary(latencies: list[float], errors: int, seconds: float) -> dict[str, float]:
    latencies = sorted(latencies)
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def wait_for(port: int, path: str, timeout: float = 30, cookie: str = "") -> str:
    """Wait for a 200 on `path`; return `cookie` with the CSRF cookie the answer set, as a
    browser would send it back (else every answer sets a new one)."""
    deadline = time.time() + timeout
    headers = {"Cookie": cookie} if cookie else {}
    while time.time() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            if response.status == 200:
                csrf = [
                    value.split(";")[0]
                    for name, value in response.getheaders()
                    if name.lower() == "set-cookie" and value.startswith("csrftoken=")
                ]
                return "; ".join(filter(None, [cookie, *csrf]))
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer 200 on {path} within {timeout}s")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per URL (default 10)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="the URLs take turns this many times (default 5)"
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections")
    parser.add_argument("--lesson", help="<track>/<slug> (default: the longest lesson)")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument(
        "--signed-in",
        action="store_true",
        help="also load the page as signed-in learners with a history (bench/history.py)",
    )
    parser.add_argument(
        "--no-page-cache",
        action="store_true",
        help="render every lesson page in full (LESSON_PAGE_CACHE_SECONDS=0): no page cache "
        "for visitors, no shells for signed-in learners",
    )
    return parser.parse_args()


def bench_env(args: argparse.Namespace, static_root: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-not-a-secret-" + "x" * 40),
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "STATIC_ROOT": str(static_root),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_ACCESSLOG": "",
        "LOG_LEVEL": "WARNING",
        "REQUEST_LOG_LEVEL": "WARNING",
        "LESSON_PAGE_CACHE_SECONDS": "0" if args.no_page_cache else "1",
    }


def prepare(args: argparse.Namespace, env: dict[str, str]) -> tuple[str, list[str], list[str], int]:
    """Migrate, sync, collect static files, make the learners; return the lesson, the
    signed-in learners' and the visitors' session keys and the page's size."""
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["migrate", "-v0"], ["createcachetable"], ["content", "sync"]):
        subprocess.run(
            [*manage, *command], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL
        )
    subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    history = [sys.executable, str(ROOT / "bench" / "history.py")]
    if args.signed_in:
        history += ["--learners", str(args.clients), "--visitors", str(args.clients)]
    else:
        history += ["--default-lesson"]
    if args.lesson:
        history.append(args.lesson)
    lesson, *sessions = run_for_output(history, env).split()
    visitors = sessions[sessions.index("--") + 1 :] if "--" in sessions else []
    sessions = sessions[: sessions.index("--")] if "--" in sessions else sessions
    path = f"/learn/{lesson}/"
    page = "from django.test import Client; "
    page += f"print(len(Client().get({path!r}, HTTP_HOST='127.0.0.1').content))"
    size = int(run_for_output([*manage, "shell", "-c", page], env))
    return lesson, sessions, visitors, size


def run_for_output(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, check=True, cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1]


def main() -> None:
    args = parse_args()
    static_root = Path(tempfile.mkdtemp(prefix="querylab-bench-static-"))
    port = free_port()
    env = bench_env(args, static_root, port)
    lesson, sessions, visitors, size = prepare(args, env)
    lesson_path = f"/learn/{lesson}/"
    # Plain text, same size as the page; hashed name not needed: whitenoise serves it as is.
    (static_root / "bench-page-sized.txt").write_text(
        ("static bench line\n" * (size // 18 + 1))[:size]
    )
    static_path = "/static/bench-page-sized.txt"

    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "config" / "gunicorn.py")],
        env=env,
        cwd=ROOT,
    )
    try:
        wait_for(port, lesson_path)
        wait_for(port, static_path)
        cookies = [wait_for(port, lesson_path, cookie=f"sessionid={key}") for key in sessions]
        visitor_cookies = [
            wait_for(port, lesson_path, cookie=f"sessionid={key}") for key in visitors
        ]
        print(
            f"gunicorn on 127.0.0.1:{port}; {args.clients} keep-alive clients, "
            f"{args.seconds:g}s per URL in {args.rounds} rounds; page and static file are "
            f"{size:,} bytes"
        )
        runs = [("static file", static_path, None), ("anonymous", lesson_path, None)]
        if cookies:
            runs.append(("signed-in", lesson_path, cookies))
        if visitor_cookies:
            runs.append(("visitor+answers", lesson_path, visitor_cookies))
        for _label, path, jar in runs:
            load(port, path, args.warmup, args.clients, jar)
        latencies: dict[str, list[float]] = {label: [] for label, _, _ in runs}
        errors = dict.fromkeys(latencies, 0)
        for _ in range(args.rounds):
            for label, path, jar in runs:
                some, failed = load(port, path, args.seconds / args.rounds, args.clients, jar)
                latencies[label] += some
                errors[label] += failed
        results = {}
        for label, path, _ in runs:
            results[label] = r = summary(latencies[label], errors[label], args.seconds)
            print(
                f"{label:15} {path:42} {r['rps']:7.0f} req/s   p50 {r['p50_ms']:6.2f} ms"
                f"   p99 {r['p99_ms']:6.2f} ms   ({r['requests']} requests, {r['errors']} errors)"
            )
        for label in results.keys() - {"static file"}:
            ratio = results[label]["rps"] / results["static file"]["rps"]
            verdict = "meets" if ratio >= 1 / 3 else "misses"
            print(f"{label} / static file = {ratio:.2f} ({verdict} the goal of at least 0.33)")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
