"""config.prepared: a statement prepared once per app-database connection, and what happens
when the server's idea of it differs from the connection's."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.prepared import PreparedStatement

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def table():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE prepared_probe (id int PRIMARY KEY, label varchar(10))")
        cursor.execute("INSERT INTO prepared_probe VALUES (1, 'one'), (2, 'two')")
    yield "prepared_probe"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE prepared_probe")
        # Only this test's statements: the app's own stay prepared on this connection.
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE name LIKE 'probe%%'")
        for (name,) in cursor.fetchall():
            cursor.execute(f"DEALLOCATE {name}")


def _label(statement: PreparedStatement, id_: int) -> tuple:
    with connection.cursor() as cursor:
        statement.execute(cursor, [id_])
        return cursor.fetchone()


def _prepared_names() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM pg_prepared_statements WHERE name LIKE 'probe%%' ORDER BY name"
        )
        return [row[0] for row in cursor.fetchall()]


def test_it_is_prepared_in_the_first_round_trip_and_then_run_by_name(table):
    statement = PreparedStatement(
        "probe_label", ["integer"], f"SELECT label FROM {table} WHERE id = $1"
    )
    with CaptureQueriesContext(connection) as queries:
        assert _label(statement, 1) == ("one",)
        assert _label(statement, 2) == ("two",)
    first, second = (query["sql"] for query in queries)
    assert "PREPARE probe_label (integer) AS" in first and "EXECUTE probe_label (1)" in first
    assert "PREPARE" not in second and "EXECUTE probe_label (2)" in second
    assert _prepared_names() == ["probe_label"]


def test_a_statement_sent_before_it_comes_first_in_the_same_round_trip(table):
    statement = PreparedStatement(
        "probe_label", ["integer"], f"SELECT label FROM {table} WHERE id = $1"
    )
    with CaptureQueriesContext(connection) as queries, connection.cursor() as cursor:
        statement.execute(cursor, [2], before=("SELECT %s::int * 10", [4]))
        assert cursor.fetchone() == (40,)
        cursor.nextset()
        assert cursor.fetchone() == ("two",)
    assert len(queries) == 1


def test_it_is_prepared_again_when_the_server_forgot_it(table):
    statement = PreparedStatement(
        "probe_label", ["integer"], f"SELECT label FROM {table} WHERE id = $1"
    )
    assert _label(statement, 1) == ("one",)
    with connection.cursor() as cursor:
        # As DISCARD ALL would (a connection pooler's reset), but leaving the app's own.
        cursor.execute("DEALLOCATE probe_label")
    assert _label(statement, 2) == ("two",)
    assert _label(statement, 1) == ("one",)


def test_a_connection_that_has_it_already_runs_it_by_name(table):
    statement = PreparedStatement(
        "probe_label", ["integer"], f"SELECT label FROM {table} WHERE id = $1"
    )
    assert _label(statement, 1) == ("one",)
    again = PreparedStatement(
        "probe_label", ["integer"], f"SELECT label FROM {table} WHERE id = $1"
    )
    assert _label(again, 2) == ("two",)  # a second PREPARE would fail: it is skipped
    assert _prepared_names() == ["probe_label"]


def test_a_migration_that_changes_what_it_returns_gets_it_prepared_anew(table):
    statement = PreparedStatement(
        "probe_label", ["integer"], f"SELECT label FROM {table} WHERE id = $1"
    )
    assert _label(statement, 1) == ("one",)
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN label TYPE varchar(20)")
        cursor.execute(f"UPDATE {table} SET label = 'a longer one' WHERE id = 1")
    # The kept plan returns varchar(10): PostgreSQL refuses it ("cached plan must not change
    # result type") until the statement is prepared again.
    assert _label(statement, 1) == ("a longer one",)


def test_a_percent_sign_in_the_statement_is_sent_as_it_is(table):
    statement = PreparedStatement(
        "probe_like", ["text"], f"SELECT count(*) FROM {table} WHERE label LIKE $1 || '%'"
    )
    assert _label(statement, "t") == (1,)
