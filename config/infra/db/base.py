"""Django's PostgreSQL backend with two changes to the connection pool Django makes:

- when ``CONN_HEALTH_CHECKS`` is on, the pool checks a connection it hands out with
  ``config.infra.pool_check.check_connection`` (no round trip unless the server has sent something)
  instead of psycopg_pool's empty query before every request's first query;
- the pool hands out the connection returned last (``LastInFirstOutPool``).

Django makes the pool itself and does not let OPTIONS override its ``check`` or its class, so
both are changed on the pool Django made.
"""

from __future__ import annotations

from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool

from config.infra.pool_check import check_connection


class LastInFirstOutPool(ConnectionPool):
    """Hands out the idle connection that was returned last, as PgBouncer does by default.

    psycopg_pool hands out the one idle longest, so consecutive requests rotate through every
    pooled connection and each PostgreSQL backend, its process and its caches, goes cold between
    uses. Last in, first out keeps a few backends busy and warm (measured with bench/sandbox.py,
    interleaved: 0.1-0.26 ms less per sandbox run at p50), and leaves the rest idle long
    enough for ``max_idle`` to close them. Growing and shrinking are psycopg_pool's own: it
    shrinks from the other end, where the connections idle longest now are."""

    def _get_ready_connection(self, timeout):
        # psycopg_pool takes from the left of its deque and returns to the right (the lock
        # is held here): turn the newest to the front and let it take that one.
        if len(self._pool) > 1:
            self._pool.rotate(1)
        return super()._get_ready_connection(timeout)


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        pool = super().pool
        if pool is not None:
            if type(pool) is ConnectionPool:
                pool.__class__ = LastInFirstOutPool  # the same object, one method changed
            if self.settings_dict["CONN_HEALTH_CHECKS"]:
                pool._check = check_connection  # psycopg_pool keeps the callback here
        return pool
