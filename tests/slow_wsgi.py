"""A WSGI app for tests/test_gunicorn_worker.py: answers its process id, after sleeping for
``?seconds=`` (at most 5)."""

from __future__ import annotations

import os
import time
from urllib.parse import parse_qs


def app(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    time.sleep(min(float(query.get("seconds", ["0"])[0]), 5.0))
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
