"""Running learner SQL in a sandbox: ``run``, ``explain`` and ``run_scratch``.

Learner SQL runs over a connection logged in *as* the sandbox's role, with the limits passed as
startup options (they outrank ``ALTER ROLE … SET``), one statement at a time over the extended
protocol, streamed, capped, and watched by a wall-clock watchdog that cancels from outside and
then terminates the backend.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.generators import fetch
from psycopg.pq import ExecStatus, TransactionStatus

from sandbox.connections import LearnerConnection, Ticket, checkin, checkout, watchdog

# sandbox/lab/ (finished in another worktree) reaches these as ``runner.X``; they live in
# servers.py and connections.py since the split (issue #19).
from sandbox.connections import SandboxBusy as SandboxBusy
from sandbox.connections import lab_connection as lab_connection
from sandbox.connections import reset_password as reset_password
from sandbox.servers import Limits, checked_name, first_line
from sandbox.servers import SandboxUnavailable as SandboxUnavailable
from sandbox.servers import server_for as server_for
from sandbox.statements import Statement

_DISK_USAGE = """
SELECT COALESCE(pg_catalog.sum(pg_catalog.pg_total_relation_size(c.oid)), 0)::pg_catalog.int8
  FROM pg_catalog.pg_class c
 WHERE c.relnamespace OPERATOR(pg_catalog.=) %s::pg_catalog.regnamespace
   AND c.relkind IN ('r', 'm')
"""


# -- runs --------------------------------------------------------------------------------------


@dataclass
class StatementResult:
    statement: str
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    rowcount: int
    truncated: bool
    elapsed_ms: float

    def as_json(self) -> dict:
        return {
            "statement": self.statement,
            "columns": self.columns,
            "types": self.types,
            "rows": self.rows,
            "rowcount": self.rowcount,
            "truncated": self.truncated,
            "elapsed_ms": self.elapsed_ms,
        }


@dataclass
class RunError:
    sqlstate: str
    message: str
    statement_index: int
    position: int | None = None
    bound: str | None = None  # which limit stopped the run, if one did

    def as_json(self) -> dict:
        return {
            "sqlstate": self.sqlstate,
            "message": self.message,
            "statement_index": self.statement_index,
            "position": self.position,
        }


@dataclass
class RunOutcome:
    results: list[StatementResult] = field(default_factory=list)
    error: RunError | None = None
    notices: list[str] = field(default_factory=list)
    disk_bytes: int | None = None


class _RunCursor(psycopg.Cursor):
    """``stream()`` that also accepts statements returning no rows and keeps the final result,
    so an empty SELECT still has column names and every statement has its command tag."""

    def _stream_fetchone_gen(self, first: bool):  # type: ignore[override]
        res = yield from fetch(self._pgconn)
        if res is None:
            return None
        status = res.status
        if status in (ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK):
            self.pgresult = res
            self._tx.set_pgresult(res, set_loaders=first)
            if first:
                self._make_row = self._make_row_maker()
            return res
        if status in (ExecStatus.TUPLES_OK, ExecStatus.COMMAND_OK):
            self.pgresult = res
            while res:
                res = yield from fetch(self._pgconn)
            return None
        return self._raise_for_result(res)


class _Budget:
    def __init__(self, limits: Limits):
        self.rows = limits.max_rows
        self.bytes = limits.max_bytes


def _cell(value: Any, budget: _Budget) -> tuple[Any, bool]:
    """A JSON-safe value and whether it had to be cut to fit the bytes budget."""
    if isinstance(value, str):
        if len(value) > budget.bytes:
            cut = value[: max(budget.bytes, 0)]
            budget.bytes = -1
            return cut, True
        budget.bytes -= len(value) + 1
        return value, False
    budget.bytes -= 8
    if isinstance(value, float) and not math.isfinite(value):
        return ("NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")), False
    return value, False


def _execute(learner: LearnerConnection, statement: Statement, budget: _Budget) -> StatementResult:
    started = time.perf_counter()
    cur = _RunCursor(learner.conn)
    rows: list[list[Any]] = []
    truncated = False
    counted = 0
    if statement.returns_rows:
        for row in cur.stream(statement.text, size=100):
            if budget.rows <= 0 or budget.bytes <= 0:
                truncated = True
                break  # psycopg cancels the rest of the statement
            cells = []
            for value in row:
                cell, cut = _cell(value, budget)
                truncated = truncated or cut
                cells.append(cell)
            rows.append(cells)
            budget.rows -= 1
            counted += 1
    else:
        cur.execute(statement.text)
    elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    columns = [column.name for column in cur.description or ()]
    types = [_type_name(learner.conn, column) for column in cur.description or ()]
    rowcount = counted if statement.returns_rows and cur.description else _tag_count(cur)
    return StatementResult(
        statement=statement.text,
        columns=columns,
        types=types,
        rows=rows,
        rowcount=rowcount,
        truncated=truncated,
        elapsed_ms=elapsed_ms,
    )


def _tag_count(cur: psycopg.Cursor) -> int:
    """The row count from a command tag ("INSERT 0 5" is 5), or -1 when it has none."""
    tag = cur.statusmessage or ""
    last = tag.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


def _type_name(conn: psycopg.Connection, column: psycopg.Column) -> str:
    shown = column.type_display
    if shown.isdigit():
        return _user_type_name(conn, int(shown))
    return shown


# Types psycopg does not know (void, pg_lsn, …): built-in ones (OIDs below 16384) are named
# the same on every server, so they cost one round trip per process, not one per run.
_FIRST_NORMAL_OID = 16384
_builtin_type_names: dict[int, str] = {}


def _user_type_name(conn: psycopg.Connection, oid: int) -> str:
    known = _builtin_type_names.get(oid)
    if known is not None:
        return known
    row = conn.execute("SELECT pg_catalog.format_type(%s, NULL)", [oid]).fetchone()
    name = row[0] if row and row[0] else str(oid)
    if oid < _FIRST_NORMAL_OID and row and row[0]:
        _builtin_type_names[oid] = name
    return name


def _bound_message(exc: psycopg.Error, ticket: Ticket, limits: Limits) -> tuple[str, str | None]:
    """The learner-facing message, naming the limit when one stopped the statement."""
    original = first_line(exc)
    state = exc.sqlstate or ""
    run_seconds = limits.run_timeout_ms / 1000
    if ticket.terminated or (ticket.cancelled and state in ("57014", "57P01", "")):
        return (
            f"Run time limit: a run may take at most {run_seconds:g} s, so it was stopped "
            f"from outside. (PostgreSQL: {original})",
            "run_timeout",
        )
    if state == "57014" and "statement timeout" in original:
        return (
            f"Statement timeout: a statement may run for at most "
            f"{limits.statement_timeout_ms / 1000:g} s. (PostgreSQL: {original})",
            "statement_timeout",
        )
    if state == "25P04" or "transaction timeout" in original:
        return (f"Run time limit: {run_seconds:g} s. (PostgreSQL: {original})", "run_timeout")
    if state == "55P03":
        return (
            f"Lock timeout: a statement may wait at most {limits.lock_timeout_ms} ms for a "
            f"lock. (PostgreSQL: {original})",
            "lock_timeout",
        )
    if state == "25P03":
        return (
            "Idle-in-transaction timeout: a transaction may sit idle for at most "
            f"{limits.idle_in_transaction_timeout_ms} ms. (PostgreSQL: {original})",
            "idle_in_transaction_timeout",
        )
    if state == "53400" and "temp_file_limit" in original:
        return (
            f"Temp file limit: a statement may spill at most "
            f"{limits.temp_file_limit_kb // 1024} MB to disk. (PostgreSQL: {original})",
            "temp_file_limit",
        )
    if state == "42501":
        return (f"Not allowed in the sandbox: {original}", None)
    return (original, None)


def _error_from(
    exc: psycopg.Error, index: int, statement: Statement, ticket: Ticket, limits: Limits
) -> RunError:
    message, bound = _bound_message(exc, ticket, limits)
    position = None
    diag = getattr(exc, "diag", None)
    if diag is not None and diag.statement_position:
        try:
            position = statement.offset + int(diag.statement_position)
        except ValueError:
            position = None
    return RunError(
        sqlstate=exc.sqlstate or "57P01",
        message=message,
        statement_index=index,
        position=position,
        bound=bound,
    )


def run(
    server: int,
    name: str,
    statements: list[Statement],
    limits: Limits | None = None,
    languages: Iterable[str] = (),
) -> RunOutcome:
    """Run parsed statements in sandbox ``name`` as its own role, within every limit.

    ``languages`` are those the sandbox was granted: with none, only statements that say so
    (``Statement.touches_session``) can leave state in the session, so the DISCARD ALL after
    a plain query is skipped; the learner's own code (functions, triggers) needs a language,
    and set_config and the advisory locks are revoked."""
    limits = limits or Limits.from_settings()
    learner = checkout(server, checked_name(name), limits)
    outcome = RunOutcome()
    budget = _Budget(limits)
    ticket = watchdog.watch(learner, limits.run_timeout_ms / 1000, limits.cancel_grace_ms / 1000)
    wrote = False
    try:
        for index, statement in enumerate(statements):
            try:
                outcome.results.append(_execute(learner, statement, budget))
            except psycopg.Error as exc:
                outcome.error = _error_from(exc, index, statement, ticket, limits)
                break
            wrote = wrote or statement.changes_disk
            if ticket.cancelled:
                outcome.error = RunError(
                    "57014",
                    f"Run time limit: a run may take at most {limits.run_timeout_ms / 1000:g} s.",
                    index + 1,
                    bound="run_timeout",
                )
                break
    finally:
        ticket.done = True
    outcome.notices = list(learner.notices)
    conn = learner.conn
    if not conn.closed and not conn.broken:
        if conn.info.transaction_status != TransactionStatus.IDLE:
            try:
                conn.execute("ROLLBACK")
                outcome.notices.append(
                    "NOTICE: the transaction left open at the end of the run was rolled back "
                    "(a run is one session; COMMIT inside it to keep changes)."
                )
            except psycopg.Error:
                pass
        if wrote:
            try:
                row = conn.execute(_DISK_USAGE, [name]).fetchone()
                outcome.disk_bytes = int(row[0]) if row else 0
            except psycopg.Error:
                outcome.disk_bytes = None
    clean = bool(set(languages)) or any(statement.touches_session for statement in statements)
    checkin(learner, clean=clean or outcome.error is not None)
    return outcome


@dataclass
class ExplainOutcome:
    plan: Any = None
    text: str = ""
    elapsed_ms: float = 0.0
    error: RunError | None = None
    notices: list[str] = field(default_factory=list)
    # The indexes of the learner's schema, for plan advice (sandbox/plan_advice.py); None when
    # they could not be read.
    indexes: list[dict] | None = None


_EXPLAIN_JSON = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "
_EXPLAIN_TEXT = "EXPLAIN (ANALYZE, BUFFERS) "
# Plan checks: VERBOSE names each scanned relation's schema, so that max_rows_read counts only
# the learner's own tables (plans.Plan.rows_read_in).
_EXPLAIN_CHECKED = "EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) "


def explain(
    server: int, name: str, statement: Statement, limits: Limits | None = None
) -> ExplainOutcome:
    """EXPLAIN ANALYZE one statement, in JSON and text, inside a transaction that is rolled
    back: the statement really runs (that is what ANALYZE means) but changes nothing."""
    limits = limits or Limits.from_settings()
    learner = checkout(server, checked_name(name), limits)
    outcome = ExplainOutcome()
    ticket = watchdog.watch(learner, limits.run_timeout_ms / 1000, limits.cancel_grace_ms / 1000)
    conn = learner.conn
    prefix = ""
    try:
        conn.execute("BEGIN")
        conn.execute("SAVEPOINT before_explain")
        prefix = _EXPLAIN_JSON
        started = time.perf_counter()
        row = conn.execute(prefix + statement.text).fetchone()
        outcome.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        plan = row[0] if row else None
        outcome.plan = json.loads(plan) if isinstance(plan, str) else plan
        conn.execute("ROLLBACK TO SAVEPOINT before_explain")
        prefix = _EXPLAIN_TEXT
        lines = conn.execute(prefix + statement.text).fetchall()
        outcome.text = "\n".join(line[0] for line in lines)
        outcome.indexes = _schema_indexes(conn, checked_name(name))
    except psycopg.Error as exc:
        shifted = Statement(
            text=statement.text,
            offset=statement.offset - len(prefix),
            kind=statement.kind,
            returns_rows=True,
            modifies_data=statement.modifies_data,
            changes_disk=False,
            explainable=True,
        )
        outcome.error = _error_from(exc, 0, shifted, ticket, limits)
    finally:
        ticket.done = True
    outcome.notices = list(learner.notices)
    if not conn.closed and not conn.broken:
        with contextlib.suppress(psycopg.Error):
            conn.execute("ROLLBACK")
    checkin(learner)
    return outcome


_SCHEMA_INDEXES = """
SELECT t.relname, i.relname, am.amname, ix.indpred IS NOT NULL,
       pg_catalog.to_json(ARRAY(
           SELECT pg_catalog.pg_get_indexdef(ix.indexrelid, k, true)
           FROM pg_catalog.generate_series(1, ix.indnkeyatts) AS k ORDER BY k))::text
FROM pg_catalog.pg_index AS ix
JOIN pg_catalog.pg_class AS i ON i.oid = ix.indexrelid
JOIN pg_catalog.pg_class AS t ON t.oid = ix.indrelid
JOIN pg_catalog.pg_am AS am ON am.oid = i.relam
JOIN pg_catalog.pg_namespace AS n ON n.oid = t.relnamespace
WHERE n.nspname = %s
ORDER BY t.relname, i.relname
"""


def _schema_indexes(conn: psycopg.Connection, schema: str) -> list[dict] | None:
    """The indexes of the learner's own schema (named like the sandbox; not the search path,
    which a learner may change), each with its key columns or expressions as
    ``pg_get_indexdef`` prints them, read inside the explain's transaction (so as it was seen).
    Everything qualified with pg_catalog, so no function of the learner's can stand in. None
    when the catalog cannot be read: advice then does without it."""
    try:
        with conn.transaction():  # a savepoint: a failure here must not lose the plan
            rows = conn.execute(_SCHEMA_INDEXES, (schema,)).fetchall()
    except psycopg.Error:
        return None
    return [
        {
            "table": table,
            "name": name,
            "method": method,
            "partial": partial,
            "keys": json.loads(keys),
        }
        for table, name, method, partial, keys in rows
    ]


# -- scratch runs (graded exercises, content check) ---------------------------------------------


@dataclass
class ScratchOutcome:
    results: list[StatementResult] = field(default_factory=list)
    error: RunError | None = None
    plan: Any = None  # EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) of the last statement, when asked


def run_scratch(
    server: int,
    name: str,
    setups: list[str],
    runs: list[list[Statement]],
    explain_last_of: int | None = None,
    limits: Limits | None = None,
) -> list[list[ScratchOutcome]]:
    """For each trusted ``setup`` SQL (a data variant; "" for the fixture as it is), run each
    list of statements of ``runs`` on a fresh copy of sandbox ``name``'s data: everything
    happens in one transaction, with a savepoint after each setup that every run rolls back
    to, and the transaction is rolled back at the end, so the sandbox never changes. Returns
    outcomes[setup][run]. ``explain_last_of`` names a run whose last statement is also
    EXPLAINed (ANALYZE) on the first setup. Transaction control must be refused beforehand."""
    limits = limits or Limits.from_settings()
    learner = checkout(server, checked_name(name), limits)
    conn = learner.conn
    outcomes: list[list[ScratchOutcome]] = []
    seconds = limits.run_timeout_ms / 1000 * max(1, len(setups) * len(runs))
    ticket = watchdog.watch(learner, seconds, limits.cancel_grace_ms / 1000)
    try:
        conn.execute("BEGIN")
        for position, setup in enumerate(setups):
            if position:
                conn.execute("ROLLBACK TO SAVEPOINT fresh")
            else:
                conn.execute("SAVEPOINT fresh")
            if setup.strip():
                # Several statements in one string: the simple protocol (trusted text).
                conn.execute(setup.encode())
            conn.execute("SAVEPOINT seeded")
            row: list[ScratchOutcome] = []
            for number, statements in enumerate(runs):
                conn.execute("ROLLBACK TO SAVEPOINT seeded")
                explain = position == 0 and number == explain_last_of
                row.append(_scratch_run(learner, statements, explain, ticket, limits))
            outcomes.append(row)
    except psycopg.Error as exc:
        message, bound = _bound_message(exc, ticket, limits)
        raise ScratchFailed(message) from exc
    finally:
        ticket.done = True
        if not conn.closed and not conn.broken:
            with contextlib.suppress(psycopg.Error):
                conn.execute("ROLLBACK")
        checkin(learner)
    return outcomes


def _scratch_run(
    learner: LearnerConnection,
    statements: list[Statement],
    explain_last: bool,
    ticket: Ticket,
    limits: Limits,
) -> ScratchOutcome:
    """One run of ``run_scratch`` (see there), from its savepoint; raises psycopg.Error only
    when the connection is lost."""
    conn = learner.conn
    outcome = ScratchOutcome()
    budget = _Budget(limits)
    for index, statement in enumerate(statements):
        try:
            if explain_last and index == len(statements) - 1:
                conn.execute("SAVEPOINT explain")
                found = conn.execute(_EXPLAIN_CHECKED + statement.text).fetchone()
                plan = found[0] if found else None
                outcome.plan = json.loads(plan) if isinstance(plan, str) else plan
                conn.execute("ROLLBACK TO SAVEPOINT explain")
            outcome.results.append(_execute(learner, statement, budget))
        except psycopg.Error as exc:
            outcome.error = _error_from(exc, index, statement, ticket, limits)
            if conn.closed or conn.broken:
                raise
            break
    return outcome


class ScratchFailed(RuntimeError):
    """A scratch run could not go on (a variant's setup failed, or the run was stopped)."""
