"""gunicorn settings for Querylab, read from the environment.

`manage.py serve` and the Docker image both use this file: `gunicorn -c config/gunicorn.py`.
"""

from __future__ import annotations

import gc
import multiprocessing
import os

from config.infra.env import gunicorn_threads

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# A sandbox run spends most of its time waiting on the two databases: threads overlap those
# waits, processes use the cores without sharing one GIL. Measured with bench/sandbox.py and
# bench/load.py on 2 cores (see bench/README.md and the README's "Workers and pools"): 3
# processes of 8 threads, at most half of each process's threads in sandbox requests
# (SANDBOX_REQUESTS_PER_PROCESS), so page views always find a free thread.
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() + 1)))
threads = gunicorn_threads()
# gthread, but a process with no free thread leaves new connections to the others.
worker_class = "config.gunicorn_worker.BalancedThreadWorker" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
# gunicorn's control socket (for gunicornc) is one path per user by default, so a second
# instance on the same machine would take over the first one's; Querylab does not use it.
control_socket_disable = True
wsgi_app = "config.wsgi:application"


def post_worker_init(worker) -> None:
    """Move everything loaded so far (Django, the app, their modules: about 90,000 objects) out
    of the garbage collector's sight. A full collection walked them all, 23-34 ms during which
    the process's requests waited; they live as long as the process, so there is nothing to
    find among them. After the freeze a full collection takes well under a millisecond."""
    gc.freeze()
