"""gunicorn settings for Querylab, read from the environment.

`manage.py serve` and the Docker image both use this file: `gunicorn -c config/gunicorn.py`.
Plain gunicorn configuration and public hooks only.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

from config.infra.env import gunicorn_threads

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# A sandbox run spends most of its time waiting on the two databases: threads overlap those
# waits, processes use the cores without sharing one GIL. Measured with bench/sandbox.py and
# bench/load.py on 2 cores (see bench/README.md and the README's "Workers and pools"): 3
# processes of 8 threads, at most half of each process's threads in sandbox requests
# (SANDBOX_REQUESTS_PER_PROCESS), so page views always find a free thread.
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() + 1)))
threads = gunicorn_threads()
worker_class = "gthread" if threads > 1 else "sync"
# gthread keeps a keep-alive connection in the process that accepted it: with a long
# keep-alive, bench/load.py's learners stayed where their first request landed (one process at
# 72 % CPU, two nearly idle). Its learners act every 2-8 s; a browser's connection that idles
# longer than this is closed, so its next click is accepted afresh by whichever process is
# free to take it. In production the reverse proxy spreads the connections (README,
# "Deploying"); this keeps a direct client from sticking to one busy process.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 20
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
# gunicorn's control socket (for gunicornc) is one path per user by default, so a second
# instance on the same machine would take over the first one's; Querylab does not use it.
control_socket_disable = True
wsgi_app = "config.wsgi:application"

_made_metrics_dir: str | None = None


def on_starting(server) -> None:
    """Give the workers a fresh folder for their Prometheus counters (prometheus-client's
    multiprocess mode: /metrics adds up every worker's files). PROMETHEUS_MULTIPROC_DIR if
    set (`serve` puts it under .data/), emptied, since counts of an earlier run must not be
    added in; else a temporary folder, removed when gunicorn stops. Set here, in the master,
    before any worker imports the app."""
    global _made_metrics_dir
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        folder = _made_metrics_dir = tempfile.mkdtemp(prefix="querylab-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder


def child_exit(server, worker) -> None:
    """A worker that is gone keeps its counts (they stay in its files); only its live gauges
    would go, which prometheus-client is told here."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    if _made_metrics_dir:
        shutil.rmtree(_made_metrics_dir, ignore_errors=True)


def post_worker_init(worker) -> None:
    """Move everything loaded so far (Django, the app, their modules: about 90,000 objects) out
    of the garbage collector's sight. A full collection walked them all, 23-34 ms during which
    the process's requests waited; they live as long as the process, so there is nothing to
    find among them. After the freeze a full collection takes well under a millisecond."""
    gc.freeze()
