"""gunicorn settings for Querylab, read from the environment.

`manage.py serve` and the Docker image both use this file: `gunicorn -c config/gunicorn.py`.
"""

from __future__ import annotations

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# A sandbox run spends about half its time waiting on the two databases: threads overlap those
# waits, processes use the cores without sharing one GIL. Measured with bench/sandbox.py on 2
# cores (see bench/README.md): 3 processes x 4 threads used less CPU per run than 4 x 4 and
# ran at least as many runs a second; each process also keeps its own learner connections.
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() + 1)))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
wsgi_app = "config.wsgi:application"
