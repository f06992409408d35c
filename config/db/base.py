"""Django's PostgreSQL backend with one change: when ``CONN_HEALTH_CHECKS`` is on, the pool
checks a connection it hands out with ``config.pool_check.check_connection`` (no round trip
unless the server has sent something) instead of psycopg_pool's empty query before every
request's first query. Django passes the pool's ``check`` itself and does not let OPTIONS
override it, so it is swapped on the pool Django made."""

from __future__ import annotations

from django.db.backends.postgresql import base

from config.pool_check import check_connection


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        pool = super().pool
        if pool is not None and self.settings_dict["CONN_HEALTH_CHECKS"]:
            pool._check = check_connection  # psycopg_pool keeps the callback here
        return pool
