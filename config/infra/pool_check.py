"""The app database pool's check of a connection as it is handed out, without a round trip
when the connection is plainly alive.

psycopg_pool's own check (``ConnectionPool.check_connection``, what Django uses for
``CONN_HEALTH_CHECKS``) sends an empty query every time: one round trip before every request's
first query. A pooled connection sits idle between requests, with nothing to read from the
server; when the server goes away (a restart, a crash, a terminated backend) the server's
FATAL message or the closed socket makes it readable. So: a connection with nothing to read is
handed out at once, and only a readable one gets the full check (which raises if it is dead,
and the pool replaces it). A network that drops packets without closing the socket is not
caught here; the request then fails and the pool discards the broken connection.
"""

from __future__ import annotations

import select

import psycopg
from psycopg_pool import ConnectionPool


def check_connection(conn: psycopg.Connection) -> None:
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    poller = select.poll()
    try:
        poller.register(conn.fileno(), select.POLLIN | select.POLLPRI)
        readable = bool(poller.poll(0))
    except (OSError, ValueError, psycopg.Error):
        readable = True
    if readable:
        ConnectionPool.check_connection(conn)
