"""A statement prepared once on each app-database connection, then run by name.

PostgreSQL plans every statement it is sent as text, and Django's backend sends text (it binds
parameters on the client). For a small statement on the hot path the plan can cost more than
running it: the sandbox's admission statement was planned in 0.3-0.8 ms and ran in 0.09 ms. A
prepared statement keeps its plan; after five runs PostgreSQL uses a generic plan (one with
``$n`` left in) when that is no worse than planning each time, and no longer plans at all.

``PreparedStatement.execute`` sends ``EXECUTE name (…)``, and on a connection that has not had
the statement yet puts its ``PREPARE`` in front, in the same round trip. Pooled connections
live for many requests, so that is once per connection. Which connections have it is kept per
psycopg connection object: a connection replaced after a restart is a new object and gets it
again. If the server does not have it after all (``DEALLOCATE``, ``DISCARD ALL``), has it
already, or can no longer use its plan because a migration changed a column it returns, the
statement is sent again in the form that fits, once each, outside a transaction.

A connection pooler in transaction mode (PgBouncer's) hands each transaction to any server
session, so a statement prepared on one may be missing on the next; Querylab needs session
pooling anyway, since its run slots are session advisory locks.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Sequence

from django.db import DatabaseError, connection

_MISSING = "26000"  # invalid_sql_statement_name: no prepared statement of that name
_DUPLICATE = "42P05"  # duplicate_prepared_statement
_CHANGED = "0A000"  # feature_not_supported, and only with this message:
_CHANGED_MESSAGE = "cached plan must not change result type"


def execute_lightly(cursor, statement: str, params: Sequence) -> None:
    """Execute one statement whose writes are counters (runs per minute): in autocommit, its
    commit does not wait for the WAL to reach the disk (``synchronous_commit = off``, sent
    with it in one round trip). A server crash may lose the last fraction of a second of
    counts; it can never corrupt anything. Inside a transaction it runs as is, so the
    transaction's other writes stay durable."""
    if connection.in_atomic_block:
        cursor.execute(statement, params)
        return
    cursor.execute(f"SET LOCAL synchronous_commit = off; {statement}", params)
    cursor.nextset()  # past the SET, to the statement's own result


class PreparedStatement:
    def __init__(self, name: str, parameter_types: Sequence[str], body: str) -> None:
        """``body`` refers to its parameters as ``$1``, ``$2``…, of ``parameter_types``.

        The name on the server ends in a hash of the statement, so a connection that has a
        statement of that name has this very statement: after a deploy that changed it, a
        session still holding the old one cannot pass it off as the new."""
        self.parameter_types = list(parameter_types)
        self.body = body
        types = ", ".join(parameter_types)
        digest = hashlib.sha256(f"({types}) {body}".encode()).hexdigest()[:12]
        self.name = f"{name}_{digest}"
        # No parameters: no parentheses at all (PostgreSQL refuses empty ones).
        types = f" ({types})" if parameter_types else ""
        arguments = f" ({', '.join(['%s'] * len(parameter_types))})" if parameter_types else ""
        # The text goes through the client-side binding of the parameters: % is doubled.
        self._prepare = f"PREPARE {self.name}{types} AS {body.replace('%', '%%')}"
        self._execute = f"EXECUTE {self.name}{arguments}"
        self._ready: weakref.WeakSet = weakref.WeakSet()

    def execute(self, cursor, params: Sequence) -> None:
        """Run the statement on ``cursor`` (a Django cursor of the default connection) with
        ``params``, as ``execute_lightly`` does: its writes are counters. The cursor is left
        on this statement's result."""
        raw = cursor.connection
        head = [] if raw in self._ready else [self._prepare]
        for attempt in range(3):
            text = "; ".join([*head, self._execute])
            # Counted as there before the answer: PREPARE outlasts the failure of a statement
            # after it in the same round trip (it is not undone with the transaction), and if
            # it failed because the statement was there already, that is the same statement.
            self._ready.add(raw)
            try:
                execute_lightly(cursor, text, params)
            except DatabaseError as exc:
                cause = exc.__cause__
                state = getattr(cause, "sqlstate", None)
                if state == _MISSING:
                    self._ready.discard(raw)
                # Inside a transaction the error has ended it: nothing more can be sent.
                if attempt == 2 or connection.in_atomic_block:
                    raise
                if state == _MISSING:
                    head = [self._prepare]
                elif state == _DUPLICATE and head == [self._prepare]:
                    head = []
                elif state == _CHANGED and _CHANGED_MESSAGE in str(cause):
                    head = [f"DEALLOCATE {self.name}", self._prepare]
                else:
                    raise
                continue
            for _ in head:
                cursor.nextset()
            return
