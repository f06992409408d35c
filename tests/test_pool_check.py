"""The app pool's connection check: a live idle connection is handed out without a round trip;
one whose backend was ended (as a database restart ends them all) is refused, so the pool
replaces it and the request never sees it."""

from __future__ import annotations

import tempfile

import psycopg
import pytest
from django.db import connection

from config.infra.db.base import LastInFirstOutPool
from config.infra.pool_check import check_connection


def _connect() -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("pool", None)
    params.pop("cursor_factory", None)
    params.pop("server_side_binding", None)
    return psycopg.connect(**params, autocommit=True)


@pytest.mark.django_db
def test_a_live_idle_connection_passes_without_a_round_trip():
    with _connect() as conn, tempfile.TemporaryFile() as trace:
        conn.execute("SELECT 1")
        conn.pgconn.trace(trace.fileno())
        check_connection(conn)
        conn.pgconn.untrace()
        trace.seek(0)
        assert trace.read() == b""  # nothing sent, nothing received
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)


@pytest.mark.django_db
def test_a_connection_whose_backend_was_ended_is_refused():
    with _connect() as victim, _connect() as admin:
        pid = victim.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
        with pytest.raises(psycopg.OperationalError):
            check_connection(victim)


@pytest.mark.django_db(transaction=True)
def test_djangos_pool_uses_it_and_replaces_a_dead_connection():
    assert connection.pool._check is check_connection
    connection.close()  # back to the pool
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (first,) = cursor.fetchone()
    connection.close()
    with _connect() as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", [first])
    # The next request's connection is a live one, not the one whose backend was ended.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (second,) = cursor.fetchone()
    assert second != first


@pytest.mark.django_db(transaction=True)
def test_the_pool_hands_out_the_connection_returned_last():
    pool = connection.pool
    assert isinstance(pool, LastInFirstOutPool)
    connection.close()  # back to the pool
    first, second, third = pool.getconn(), pool.getconn(), pool.getconn()
    pids = [conn.info.backend_pid for conn in (first, second, third)]
    for conn in (first, second, third):
        pool.putconn(conn)
    # The next two requests get the last two connections returned, newest first.
    again, after = pool.getconn(), pool.getconn()
    assert [again.info.backend_pid, after.info.backend_pid] == [pids[2], pids[1]]
    pool.putconn(after)
    pool.putconn(again)
    assert pool.getconn().info.backend_pid == pids[2]
