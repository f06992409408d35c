"""config.infra.prepared: a statement prepared once per app-database connection, and what happens
when the server's idea of it differs from the connection's."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, DataError, ProgrammingError, connection, transaction
from django.test.utils import CaptureQueriesContext

from config.infra.prepared import PreparedStatement

pytestmark = pytest.mark.django_db(transaction=True)

TABLE = "prepared_probe"


@pytest.fixture(autouse=True)
def table():
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {TABLE} (id int PRIMARY KEY, label varchar(10))")
        cursor.execute(f"INSERT INTO {TABLE} VALUES (1, 'one'), (2, 'two')")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {TABLE}")
        # Only this test's statements: the app's own stay prepared on this connection.
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE name LIKE 'probe%%'")
        for (name,) in cursor.fetchall():
            cursor.execute(f"DEALLOCATE {name}")


def label_statement(body: str = f"SELECT label FROM {TABLE} WHERE id = $1") -> PreparedStatement:
    return PreparedStatement("probe_label", ["integer"], body)


def run(statement: PreparedStatement, *params) -> tuple:
    with connection.cursor() as cursor:
        statement.execute(cursor, list(params))
        return cursor.fetchone()


def prepared_names() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM pg_prepared_statements WHERE name LIKE 'probe%%' ORDER BY name"
        )
        return [row[0] for row in cursor.fetchall()]


def test_it_is_prepared_in_the_first_round_trip_and_then_run_by_name():
    statement = label_statement()
    with CaptureQueriesContext(connection) as queries:
        assert run(statement, 1) == ("one",)
        assert run(statement, 2) == ("two",)
    first, second = (query["sql"] for query in queries)
    name = statement.name
    assert f"PREPARE {name} (integer) AS" in first and f"EXECUTE {name} (1)" in first
    assert "PREPARE" not in second and f"EXECUTE {name} (2)" in second
    assert prepared_names() == [name]


def test_it_is_prepared_again_when_the_server_forgot_it():
    statement = label_statement()
    assert run(statement, 1) == ("one",)
    with connection.cursor() as cursor:
        # As DISCARD ALL would (a connection pooler's reset), but leaving the app's own.
        cursor.execute(f"DEALLOCATE {statement.name}")
    assert run(statement, 2) == ("two",)
    assert run(statement, 1) == ("one",)


def test_a_connection_that_has_it_already_runs_it_by_name():
    assert run(label_statement(), 1) == ("one",)
    again = label_statement()  # as in a second process sharing the session through a pooler
    with CaptureQueriesContext(connection) as queries:
        assert run(again, 2) == ("two",)  # its PREPARE fails: the statement is there
        assert run(again, 1) == ("one",)
    assert "PREPARE" not in queries[-1]["sql"]
    assert len(prepared_names()) == 1


def test_a_changed_statement_never_runs_as_the_one_a_session_kept():
    # After a deploy that changed the statement, a session still holding the old one.
    old = label_statement()
    new = label_statement(f"SELECT label, id * 100 FROM {TABLE} WHERE id = $1")
    assert run(old, 1) == ("one",)
    assert run(new, 1) == ("one", 100)
    assert old.name != new.name and len(prepared_names()) == 2


def test_a_first_run_that_fails_after_its_prepare_leaves_it_ready():
    statement = PreparedStatement("probe_divide", ["integer"], "SELECT 10 / $1")
    with pytest.raises(DataError):
        run(statement, 0)  # division by zero, in the round trip that prepared it
    # The PREPARE outlasted the failure: the next run sends only the EXECUTE, even inside a
    # transaction, where a second try is impossible.
    with (
        transaction.atomic(),
        CaptureQueriesContext(connection) as queries,
    ):
        assert run(statement, 2) == (5,)
    assert len(queries) == 1 and "PREPARE" not in queries[0]["sql"]


def test_inside_a_transaction_a_forgotten_statement_fails_once_then_is_prepared_again():
    statement = label_statement()
    assert run(statement, 1) == ("one",)
    with connection.cursor() as cursor:
        cursor.execute(f"DEALLOCATE {statement.name}")
    with pytest.raises(ProgrammingError), transaction.atomic():
        run(statement, 1)  # the error has ended the transaction: nothing more can be sent
    with transaction.atomic():
        assert run(statement, 2) == ("two",)


def test_a_migration_that_changes_what_it_returns_gets_it_prepared_anew():
    statement = label_statement()
    assert run(statement, 1) == ("one",)
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN label TYPE varchar(20)")
        cursor.execute(f"UPDATE {TABLE} SET label = 'a longer one' WHERE id = 1")
    # The kept plan returns varchar(10): PostgreSQL refuses it ("cached plan must not change
    # result type") until the statement is prepared again.
    assert run(statement, 1) == ("a longer one",)


def test_other_unsupported_features_are_not_taken_for_a_changed_plan():
    statement = PreparedStatement("probe_lock", [], f"SELECT count(*) FROM {TABLE} FOR UPDATE")
    # 0A000 too ("FOR UPDATE is not allowed with aggregate functions"), but not about the
    # statement's plan: raised at once, not tried again.
    with (
        CaptureQueriesContext(connection) as queries,
        pytest.raises(DatabaseError, match="FOR UPDATE is not allowed") as raised,
    ):
        run(statement)
    assert raised.value.__cause__.sqlstate == "0A000"
    assert len(queries) == 1


def test_a_statement_without_parameters():
    statement = PreparedStatement("probe_count", [], f"SELECT count(*) FROM {TABLE}")
    assert run(statement) == (2,)
    assert run(statement) == (2,)


def test_a_percent_sign_in_the_statement_is_sent_as_it_is():
    statement = PreparedStatement(
        "probe_like", ["text"], f"SELECT count(*) FROM {TABLE} WHERE label LIKE $1 || '%'"
    )
    assert run(statement, "t") == (1,)
