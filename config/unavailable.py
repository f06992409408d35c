"""A database that goes away answers 503 with a short message, never a traceback.

The app database can restart (a failover, an upgrade, a crash) while requests are in flight.
Those requests fail with ``DatabaseError`` (psycopg's ``OperationalError`` underneath) or, when
no connection can be had in time, with ``psycopg_pool.PoolTimeout``. They answer 503 with
``Retry-After``: an HTML page for people, JSON for ``/api/``. The page is rendered without a
request context, because the context processors (the signed-in user, the notification badge)
would need the database that is down.

Two hooks, because Django turns an exception into a response where it happens: the
middleware's ``process_exception`` catches what a view raises (also with ``DEBUG`` on), and
``server_error`` (``handler500``) catches what a middleware raises, such as the session being
saved after the view.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import psycopg
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.template import loader
from django.views import defaults

log = logging.getLogger("querylab.unavailable")

RETRY_AFTER_SECONDS = 5
MESSAGE = "Querylab cannot reach its database right now. Please try again in a few seconds."


def is_database_outage(exc: BaseException | None) -> bool:
    # PoolTimeout is a psycopg.OperationalError; Django wraps psycopg's errors as DatabaseError.
    return isinstance(exc, DatabaseError | psycopg.OperationalError)


def unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """The 503 answer for a request that failed because a database was unreachable."""
    log.warning(
        "database unavailable: %s",
        type(exc).__name__,
        extra={"path": request.path, "error": str(exc).strip().splitlines()[0][:200]},
    )
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"ok": False, "error": MESSAGE}, status=503)
    else:
        html = loader.get_template("503.html").render({"message": MESSAGE})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    # Not counted in /metrics: counting needs the database that is down.
    response.database_unavailable = True
    return response


class DatabaseUnavailableMiddleware:
    """Turns a view's database outage into a 503 (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if is_database_outage(exc):
            return unavailable_response(request, exc)
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: a 503 when the error was a database outage, else Django's 500 page."""
    exc = sys.exc_info()[1]
    if is_database_outage(exc):
        return unavailable_response(request, exc)
    try:
        return defaults.server_error(request)
    except Exception:  # no 500.html, or it failed to render
        return HttpResponseServerError("<h1>Server error</h1>", content_type="text/html")
