"""A database that goes away answers 503 with a short message, never a traceback.

The app database can restart (a failover, an upgrade, a crash) while requests are in flight.
Those requests fail with ``DatabaseError`` (psycopg's ``OperationalError`` underneath) or, when
no connection can be had in time, with ``psycopg_pool.PoolTimeout``. They answer 503 with
``Retry-After``: an HTML page for people, JSON for ``/api/``. The page is rendered without a
request context, because the context processors (the signed-in user, the notification badge)
would need the database that is down.

Only a lost, refused or exhausted connection is an outage. Bad input that reaches the
database (a NUL byte in a search, a page number past bigint: ``DataError``) answers 400 with a
message instead, and is not logged as an outage.

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
import psycopg_pool
from django.db import DataError, InterfaceError, OperationalError
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseServerError,
    JsonResponse,
)
from django.template import loader
from django.views import defaults

log = logging.getLogger("querylab.unavailable")

RETRY_AFTER_SECONDS = 5
MESSAGE = "Querylab cannot reach its database right now. Please try again in a few seconds."


# SQLSTATEs of a server that is going away or refuses connections: class 08 (connection
# exception), admin/crash shutdown, "cannot connect now" (starting up), too many connections.
OUTAGE_SQLSTATES = {"57P01", "57P02", "57P03", "53300"}

BAD_INPUT_MESSAGE = (
    "The request carried a value the database cannot accept (for example a NUL character or a "
    "number too large). Check the address or the text you sent and try again."
)


def is_database_outage(exc: BaseException | None) -> bool:
    """True when the database could not be reached: a lost or refused connection, an exhausted
    pool. Not for errors the server answered about a statement (bad data, a bug)."""
    if isinstance(exc, psycopg_pool.PoolTimeout | InterfaceError | psycopg.InterfaceError):
        return True
    if not isinstance(exc, OperationalError | psycopg.OperationalError):
        return False
    # Django wraps psycopg's error; the original carries the server's SQLSTATE, if any. None
    # means no server answered (the connection failed or broke).
    original = exc if isinstance(exc, psycopg.Error) else exc.__cause__
    if isinstance(original, psycopg_pool.PoolTimeout):
        return True
    sqlstate = getattr(original, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in OUTAGE_SQLSTATES


def bad_input_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """The 400 answer for a request whose input the database refused (``DataError``)."""
    log.info("bad input refused by the database", extra={"path": request.path})
    if request.path.startswith("/api/"):
        return JsonResponse({"ok": False, "error": BAD_INPUT_MESSAGE}, status=400)
    return HttpResponseBadRequest(BAD_INPUT_MESSAGE, content_type="text/plain; charset=utf-8")


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
        if isinstance(exc, DataError):
            return bad_input_response(request, exc)
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: a 503 when the error was a database outage, else Django's 500 page."""
    exc = sys.exc_info()[1]
    if is_database_outage(exc):
        return unavailable_response(request, exc)
    if isinstance(exc, DataError):
        return bad_input_response(request, exc)
    try:
        return defaults.server_error(request)
    except Exception:  # no 500.html, or it failed to render
        return HttpResponseServerError("<h1>Server error</h1>", content_type="text/html")
