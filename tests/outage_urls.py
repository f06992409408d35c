"""The site's URLs plus views that fail as they do when a database goes away (tests only)."""

from __future__ import annotations

from django.db import OperationalError, connection
from django.urls import path
from psycopg_pool import PoolTimeout

from config.urls import handler500
from config.urls import urlpatterns as site_urlpatterns


def database_gone(request):
    raise OperationalError("terminating connection due to administrator command")


def pool_exhausted(request):
    raise PoolTimeout("couldn't get a connection after 10.00 sec")


def bad_value(request):
    with connection.cursor() as cursor:  # the server answers 22P02: a DataError, not an outage
        cursor.execute("SELECT %s::integer", ["not a number"])


def statement_error(request):
    with connection.cursor() as cursor:  # an OperationalError the server answered (57014)
        cursor.execute("SET LOCAL statement_timeout = 1; SELECT pg_sleep(1)")


def bug(request):
    raise ZeroDivisionError("not a database problem")


urlpatterns = [
    path("outage/page/", database_gone),
    path("api/outage", database_gone),
    path("outage/pool/", pool_exhausted),
    path("outage/bug/", bug),
    path("outage/bad-value/", bad_value),
    path("api/bad-value", bad_value),
    path("outage/statement-error/", statement_error),
    *site_urlpatterns,
]
__all__ = ["handler500", "urlpatterns"]
