"""Structured logging: one JSON object per line, and one line per request with its time."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

from config.infra import metrics

request_log = logging.getLogger("querylab.requests")
# What this thread writes once the response it serves has been sent (request_finished).
_pending = threading.local()


def info_later(logger: logging.Logger, message: str, *args, extra: dict) -> None:
    """``logger.info``, written once the response this thread is serving has been sent (with
    the request's own line, see ``RequestLogMiddleware``), so writing it is not part of the
    wait; at once outside a request (threads of their own, management commands)."""
    lines = getattr(_pending, "lines", None)
    if lines is None:
        logger.info(message, *args, extra=extra)
    else:
        lines.append((logger, message, args, extra))


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line: time, level, logger, message and any `extra` fields."""

    STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,  # which server process: several log to one stream
        }
        entry.update({k: v for k, v in vars(record).items() if k not in self.STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class RequestLogMiddleware:
    """Logs method, path, status, duration and user of every request, in one line."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        _write_request_line()  # of a response this thread served that was never closed
        _pending.lines = []  # for info_later
        started = time.perf_counter()
        response = self.get_response(request)
        outage = getattr(response, "database_unavailable", False)
        # Finding the user reads the session from the database: not when it is down.
        user = None if outage else getattr(request, "user", None)
        extra = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "ms": round((time.perf_counter() - started) * 1000, 2),
            "user": user.pk if user is not None and user.is_authenticated else None,
            "htmx": request.headers.get("HX-Request") == "true",
        }
        # Written once the server has sent the response and closed it (Django's
        # request_finished signal, sent then in the thread that served it): not part of the
        # wait.
        _pending.line = (request.method, request.path, response.status_code, extra)
        if response.status_code == 429 or (response.status_code >= 500 and not outage):
            metrics.http_responses.labels(
                status=response.status_code, area=_area(request.path)
            ).inc()
        return response


def _write_request_line(**kwargs) -> None:
    lines, _pending.lines = getattr(_pending, "lines", None), None
    for logger, message, args, extra in lines or ():
        logger.info(message, *args, extra=extra)
    line = getattr(_pending, "line", None)
    if line is not None:
        _pending.line = None
        method, path, status, extra = line
        request_log.info("%s %s %s", method, path, status, extra=extra)


request_finished.connect(_write_request_line, dispatch_uid="querylab-request-log")


def _area(path: str) -> str:
    if path.startswith(("/api/sandbox/", "/sandbox/")):
        return "sandbox"
    if path.startswith("/discussion/") or "/discussion/" in path:
        return "discussion"
    return "site"
