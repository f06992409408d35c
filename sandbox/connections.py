"""Learner connections: opened *as* the sandbox's role with the limits as startup options,
cached per process and per sandbox (never shared between sandboxes), and the watchdog that
cancels a run from outside at its deadline, then ends the backend."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
from django.conf import settings
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from psycopg.types.string import TextLoader

from sandbox.servers import (
    Limits,
    SandboxUnavailable,
    cheap_scram,
    checked_name,
    close_admin_pools,
    first_line,
    nice_backend,
    provisioning,
    role_password,
    role_url,
)

log = logging.getLogger(__name__)


class SandboxBusy(RuntimeError):
    """The sandbox cannot take another connection right now; try again shortly."""


# -- learner connections ----------------------------------------------------------------------


def _text_loaders(conn: psycopg.Connection) -> None:
    """Everything but booleans and numbers arrives as PostgreSQL's own text form (JSON-safe)."""
    keep = {"bool", "int2", "int4", "int8", "oid", "float4", "float8"}
    for info in psycopg.postgres.types:
        if info.name not in keep:
            conn.adapters.register_loader(info.oid, TextLoader)
        if info.array_oid:
            conn.adapters.register_loader(info.array_oid, TextLoader)


@dataclass
class LearnerConnection:
    conn: psycopg.Connection
    server: int
    name: str
    notices: list[str] = field(default_factory=list)
    last_used: float = 0.0


_idle: dict[str, list[LearnerConnection]] = {}
_idle_lock = threading.Lock()


def startup_options(server: int, limits: Limits, name: str) -> str:
    options = {
        "statement_timeout": limits.statement_timeout_ms,
        "lock_timeout": limits.lock_timeout_ms,
        "idle_in_transaction_session_timeout": limits.idle_in_transaction_timeout_ms,
        "work_mem": f"{limits.work_mem_kb}kB",
        "max_parallel_workers_per_gather": 0,
        # JIT compilation cannot be interrupted: statement_timeout and cancels wait until it
        # ends. On a server built with JIT (distribution and Docker packages are), a plan that
        # merely looks expensive paid 90 ms of compiling before its first row, 0.3-0.7 s with
        # libLLVM paged out on a busy machine, during which no limit could stop it. Sandbox
        # queries are small; the plans learners read are clearer without a JIT section too.
        "jit": "off",
        "search_path": name,
        # Whatever the server's default: lessons and exercises quote times, documented as UTC.
        "TimeZone": "UTC",
    }
    if provisioning(server).version >= 170000:
        # A backstop behind the watchdog (it ends the session, so it comes second).
        options["transaction_timeout"] = limits.run_timeout_ms + 2 * limits.cancel_grace_ms
    return " ".join(f"-c {key}={value}" for key, value in options.items())


def _connect(server: int, name: str, limits: Limits) -> LearnerConnection:
    options = startup_options(server, limits, name)
    for attempt in range(2):
        try:
            conn = psycopg.connect(
                role_url(server, name, application_name="querylab-sandbox", options=options),
                autocommit=True,
                prepare_threshold=None,
            )
            break
        except psycopg.OperationalError as exc:
            text = str(exc)
            if "too many connections for role" in text:
                raise SandboxBusy(
                    "Connections per sandbox limit: this sandbox already has "
                    f"{settings.SANDBOX_ROLE_CONNECTION_LIMIT} runs open; try again shortly."
                ) from exc
            if attempt == 0 and "password authentication failed" in text:
                # A learner changed their role's password (any role may): take it back.
                _reset_password(server, name)
                continue
            raise SandboxUnavailable(first_line(exc)) from exc
    _text_loaders(conn)
    nice_backend(server, conn)
    learner = LearnerConnection(conn=conn, server=server, name=name)

    def keep_notice(diagnostic: psycopg.errors.Diagnostic) -> None:
        if len(learner.notices) < 20:
            text = f"{diagnostic.severity}: {diagnostic.message_primary}"
            learner.notices.append(text[:500])

    conn.add_notice_handler(keep_notice)
    return learner


def _reset_password(server: int, name: str) -> None:
    target = provisioning(server)
    with target.pool.connection() as conn, conn.transaction():
        cheap_scram(conn, target.version)
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(checked_name(name)), sql.Literal(role_password(name))
            )
        )


def checkout(server: int, name: str, limits: Limits) -> LearnerConnection:
    now = time.monotonic()
    with _idle_lock:
        stack = _idle.get(name)
        while stack:
            learner = stack.pop()
            fresh = now - learner.last_used < settings.SANDBOX_IDLE_CONNECTION_SECONDS
            if fresh and not learner.conn.closed:
                return learner
            _close_quietly(learner)
    return _connect(server, name, limits)


def checkin(learner: LearnerConnection, clean: bool = True) -> None:
    conn = learner.conn
    if conn.closed or conn.broken:
        return
    try:
        if conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        if clean:
            # Settings, prepared statements, cursors: nothing survives into the next run.
            conn.execute("DISCARD ALL")
    except psycopg.Error:
        _close_quietly(learner)
        return
    learner.notices.clear()
    learner.last_used = time.monotonic()
    to_close = []
    with _idle_lock:
        _idle.setdefault(learner.name, []).append(learner)
        total = sum(len(stack) for stack in _idle.values())
        if total > settings.SANDBOX_IDLE_CONNECTIONS:
            oldest = sorted(
                ((other.last_used, key) for key, stack in _idle.items() for other in stack)
            )[: total - settings.SANDBOX_IDLE_CONNECTIONS]
            for _, key in oldest:
                if _idle.get(key):
                    to_close.append(_idle[key].pop(0))
                if not _idle.get(key):
                    _idle.pop(key, None)
    for other in to_close:
        _close_quietly(other)


def forget_connections(names: Iterable[str]) -> None:
    with _idle_lock:
        gone = [learner for name in names for learner in _idle.pop(name, [])]
    for learner in gone:
        _close_quietly(learner)


def close_idle_connections() -> None:
    """Close every cached learner connection of this process (tests, shutdown)."""
    with _idle_lock:
        gone = [learner for stack in _idle.values() for learner in stack]
        _idle.clear()
    for learner in gone:
        _close_quietly(learner)


def close_pools() -> None:
    """Close every connection this process holds to sandbox servers: cached learner
    connections and the provisioning and superuser pools (made again when next needed)."""
    close_idle_connections()
    close_admin_pools()


def _close_quietly(learner: LearnerConnection) -> None:
    # Closing a dead connection may fail in many ways; it is gone either way.
    with contextlib.suppress(Exception):
        learner.conn.close()


# -- the watchdog ------------------------------------------------------------------------------


@dataclass
class Ticket:
    learner: LearnerConnection
    deadline: float
    done: bool = False
    cancelled: bool = False
    terminated: bool = False


class Watchdog:
    """One thread per process that cancels runs past their deadline from outside, then ends
    the backend if it is still running after a grace period."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str, Ticket]] = []
        self._counter = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, learner: LearnerConnection, seconds: float, grace: float) -> Ticket:
        ticket = Ticket(learner=learner, deadline=time.monotonic() + seconds)
        with self._wake:
            heapq.heappush(self._heap, (ticket.deadline, next(self._counter), "cancel", ticket))
            heapq.heappush(
                self._heap, (ticket.deadline + grace, next(self._counter), "terminate", ticket)
            )
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="sandbox-watchdog", daemon=True
                )
                self._thread.start()
            self._wake.notify()
        return ticket

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    # Drop finished runs from the top so the heap does not grow without end.
                    while self._heap and self._heap[0][3].done:
                        heapq.heappop(self._heap)
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._wake.wait(timeout)
                _, _, action, ticket = heapq.heappop(self._heap)
            if ticket.done:
                continue
            try:
                if action == "cancel":
                    ticket.cancelled = True
                    ticket.learner.conn.cancel_safe(timeout=1)
                else:
                    ticket.terminated = True
                    _terminate(ticket.learner.server, ticket.learner.conn.info.backend_pid)
            except Exception:
                log.exception("sandbox watchdog could not %s a run", action)


watchdog = Watchdog()


def _terminate(server: int, pid: int) -> None:
    with provisioning(server).pool.connection() as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", [pid])


# -- the Django ORM lab ----------------------------------------------------------------------------


def lab_connection(server: int, name: str, limits: Limits | None = None) -> tuple[dict, str]:
    """What a lab run needs to connect as sandbox ``name`` (sandbox/lab/worker.py): the role's
    own connection parameters and the same startup options as SQL runs (statement, lock and
    idle timeouts, work_mem, jit off, search_path). Only that role: the worker never sees the
    provisioning or superuser URLs, nor SECRET_KEY (passwords are derived from it here)."""
    limits = limits or Limits.from_settings()
    params = conninfo_to_dict(role_url(server, checked_name(name)))
    wanted = ("host", "port", "dbname", "user", "password", "hostaddr", "sslmode")
    return {key: params[key] for key in wanted if params.get(key)}, startup_options(
        server, limits, name
    )


def reset_password(server: int, name: str) -> None:
    """Set a sandbox role's password back to the derived one (a learner changed it)."""
    _reset_password(server, checked_name(name))
