"""Lesson page vs. a static file of the same size, on one gunicorn server on 127.0.0.1.

    uv run python bench/pages.py [--seconds 10] [--clients 8] [--lesson postgresql/first-queries]

Prepares the database and content like `manage.py serve`, renders the lesson once to learn its
size, writes a static file of that size next to the collected static files, starts gunicorn
(config/gunicorn.py, DEBUG=0), then loads each URL in turn with keep-alive clients in separate
processes and prints requests per second, p50 and p99 latency, and the ratio. See bench/README.md.
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


def client(port: int, path: str, seconds: float, queue: multiprocessing.Queue) -> None:
    """One keep-alive connection, requesting `path` as fast as it can until time is up."""
    latencies: list[float] = []
    errors = 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    deadline = time.perf_counter() + seconds
    while (start := time.perf_counter()) < deadline:
        try:
            connection.request("GET", path, headers={"Host": "127.0.0.1"})
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


def load(port: int, path: str, seconds: float, clients: int) -> dict[str, float]:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    processes = [
        multiprocessing.Process(target=client, args=(port, path, seconds, queue))
        for _ in range(clients)
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
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def wait_for(port: int, path: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer 200 on {path} within {timeout}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per URL (default 10)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections")
    parser.add_argument("--lesson", default="postgresql/first-queries", help="<track>/<slug>")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument(
        "--no-page-cache",
        action="store_true",
        help="render every lesson page (LESSON_PAGE_CACHE_SECONDS=0), as for signed-in learners",
    )
    args = parser.parse_args()

    static_root = Path(tempfile.mkdtemp(prefix="querylab-bench-static-"))
    port = free_port()
    env = {
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
        "LESSON_PAGE_CACHE_SECONDS": "0" if args.no_page_cache else "1",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["migrate", "-v0"], ["createcachetable"], ["content", "sync"]):
        subprocess.run(
            [*manage, *command], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL
        )
    subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)

    lesson_path = f"/learn/{args.lesson}/"
    size = int(
        subprocess.run(
            [
                *manage,
                "shell",
                "-c",
                "from django.test import Client; "
                f"print(len(Client().get({lesson_path!r}, HTTP_HOST='127.0.0.1').content))",
            ],
            env=env,
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
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
        print(
            f"gunicorn on 127.0.0.1:{port}; {args.clients} keep-alive clients, "
            f"{args.seconds:g}s per URL; page and static file are {size:,} bytes"
        )
        results = {}
        for label, path in (("lesson page", lesson_path), ("static file", static_path)):
            load(port, path, args.warmup, args.clients)
            results[label] = load(port, path, args.seconds, args.clients)
            r = results[label]
            print(
                f"{label:12} {path:40} {r['rps']:8.0f} req/s   p50 {r['p50_ms']:6.2f} ms"
                f"   p99 {r['p99_ms']:6.2f} ms   ({r['requests']} requests, {r['errors']} errors)"
            )
        ratio = results["lesson page"]["rps"] / results["static file"]["rps"]
        verdict = "meets" if ratio >= 1 / 3 else "misses"
        print(f"lesson page / static file = {ratio:.2f} ({verdict} the goal of at least 0.33)")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
