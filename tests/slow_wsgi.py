"""A WSGI app for tests/test_gunicorn_config.py: answers its process id, after sleeping for
``?seconds=`` (at most 5); at ``/gc``, how many objects the garbage collector leaves alone."""

from __future__ import annotations

import gc
import os
import time
from urllib.parse import parse_qs


def app(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    time.sleep(min(float(query.get("seconds", ["0"])[0]), 5.0))
    if environ.get("PATH_INFO") == "/gc":
        body = str(gc.get_freeze_count()).encode()
    else:
        body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
