"""Counters shared by every process, and the Prometheus text that ``/metrics`` serves.

Counters live in PostgreSQL (``config.Counter``): one ``INSERT … ON CONFLICT DO UPDATE SET
value = value + n`` per event (several series in one statement when an event touches several),
so every gunicorn worker and every host adds to the same numbers and a restart loses nothing.
Only rare or per-run events are counted this way, never every page view.

Gauges are read when scraped: Django's connection pool of the answering process, the sandbox
records by state and server, and the connections this installation has open on each sandbox
server.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator

from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Count

log = logging.getLogger(__name__)

PREFIX = "querylab_"

# name: (type, help). Counters not listed here are still served, typed "untyped".
METRICS = {
    "sandbox_runs_total": ("counter", "Sandbox runs and explains that reached the server."),
    "sandbox_bounds_hit_total": ("counter", "Runs stopped or cut short by a bound, by bound."),
    "sandbox_timeouts_total": ("counter", "Runs stopped by a timeout (a subset of bounds hit)."),
    "sandbox_rejections_total": (
        "counter",
        "Runs refused before reaching the server, by the bound that refused them.",
    ),
    "sandbox_unavailable_total": ("counter", "Runs that found their sandbox server down."),
    "http_responses_total": ("counter", "Responses with status 429 or 5xx, by status."),
}

TIMEOUT_BOUNDS = {"statement_timeout", "run_timeout", "lock_timeout", "idle_in_transaction_timeout"}


_held = threading.local()


def count(*series: tuple[str, str] | str) -> None:
    """Add one to each series: a metric name, or ``(name, labels)`` with labels written as
    Prometheus writes them (``bound="rows"``). Never raises: metrics must not break a request.
    Inside ``held()``, the counts wait to be written with the statement that ends it."""
    rows = [(item, "") if isinstance(item, str) else item for item in series]
    if not rows:
        return
    pending = getattr(_held, "rows", None)
    if pending is not None:
        pending.extend(rows)
        return
    statement, params = upsert(rows)
    try:
        if connection.in_atomic_block:
            # A savepoint inside a transaction, so a failure cannot spoil it.
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement, params)
        else:
            # In autocommit one statement is its own transaction: one round trip, no BEGIN.
            with connection.cursor() as cursor:
                execute_lightly(cursor, statement, params)
    except DatabaseError as exc:
        log.warning("could not count %s: %s", rows, str(exc).strip().splitlines()[:1])


def execute_lightly(cursor, statement: str, params: list) -> None:
    """Execute one statement whose writes are counters (runs per minute, metrics): in
    autocommit, its commit does not wait for the WAL to reach the disk
    (``synchronous_commit = off``, sent with it in one round trip). A server crash may lose
    the last fraction of a second of counts; it can never corrupt anything. Inside a
    transaction it runs as is, so the transaction's other writes stay durable."""
    if connection.in_atomic_block:
        cursor.execute(statement, params)
        return
    cursor.execute(f"SET LOCAL synchronous_commit = off; {statement}", params)
    cursor.nextset()  # past the SET, to the statement's own result


def upsert(rows: list[tuple[str, str]]) -> tuple[str, list]:
    """The statement that adds one to each ``(name, labels)`` row, and its parameters. A
    series named twice is added to once, by two (one statement cannot update a row twice)."""
    totals = collections.Counter(rows)
    values = ", ".join(["(%s, %s, %s)"] * len(totals))
    params = [part for (name, labels), n in totals.items() for part in (name, labels, n)]
    statement = (
        "INSERT INTO config_counter (metric, labels, value) VALUES "
        f"{values} ON CONFLICT (metric, labels) "
        "DO UPDATE SET value = config_counter.value + EXCLUDED.value"
    )
    return statement, params


@contextlib.contextmanager
def held() -> Iterator[list[tuple[str, str]]]:
    """Hold this thread's counts instead of writing each at once: the caller writes the rows
    it is given at the end (for a sandbox run, in the statement that frees its run slot,
    sparing a round trip per run) and must hand any it could not write to ``count``."""
    if getattr(_held, "rows", None) is not None:  # already held further out
        yield []
        return
    _held.rows = rows = []
    try:
        yield rows
    finally:
        _held.rows = None


def label(name: str, value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{name}="{text}"'


def _lines(name: str, samples: Iterable[tuple[str, float]], kind: str, help_text: str):
    yield f"# HELP {PREFIX}{name} {help_text}"
    yield f"# TYPE {PREFIX}{name} {kind}"
    for labels, value in samples:
        yield f"{PREFIX}{name}{{{labels}}} {value:g}" if labels else f"{PREFIX}{name} {value:g}"


def render() -> str:
    """The Prometheus text exposition of every counter and gauge."""
    from config.models import Counter

    out: list[str] = []
    series: dict[str, list[tuple[str, float]]] = {name: [] for name in METRICS}
    for metric, labels, value in Counter.objects.order_by("metric", "labels").values_list(
        "metric", "labels", "value"
    ):
        series.setdefault(metric, []).append((labels, value))
    for name, samples in series.items():
        kind, help_text = METRICS.get(name, ("untyped", name))
        out.extend(_lines(name, samples, kind, help_text))
    out.extend(_pool_lines())
    out.extend(_sandbox_lines())
    return "\n".join(out) + "\n"


def _pool_lines() -> list[str]:
    pool = getattr(connections["default"], "pool", None)
    if pool is None:
        return []
    stats = pool.get_stats()
    out: list[str] = []
    for key in ("pool_min", "pool_max", "pool_size", "pool_available", "requests_waiting"):
        out.extend(
            _lines(
                f"db_{key}",
                [("", stats.get(key, 0))],
                "gauge",
                f"Django's psycopg pool of this process: {key.replace('_', ' ')}.",
            )
        )
    for key in ("requests_num", "requests_errors", "connections_num", "connections_errors"):
        out.extend(
            _lines(
                f"db_pool_{key}_total",
                [("", stats.get(key, 0))],
                "counter",
                f"Django's psycopg pool of this process since it started: {key}.",
            )
        )
    return out


def _sandbox_lines() -> list[str]:
    from sandbox import runner
    from sandbox.models import Sandbox

    records = [
        (f"{label('server', server)},{label('state', state)}", n)
        for server, state, n in Sandbox.objects.order_by("server", "state")
        .values_list("server", "state")
        .annotate(n=Count("pk"))
    ]
    out = list(_lines("sandboxes", records, "gauge", "Sandbox records by server and state."))
    up: list[tuple[str, float]] = []
    used: list[tuple[str, float]] = []
    for server in range(len(runner.sandbox_urls())):
        answers = runner.server_answers(server)
        up.append((label("server", server), 1 if answers else 0))
        if not answers:
            continue
        try:
            for application, n in sorted(runner.server_connections(server).items()):
                used.append((f"{label('server', server)},{label('application', application)}", n))
        except runner.SandboxUnavailable:
            continue
    out.extend(_lines("sandbox_server_up", up, "gauge", "Whether each sandbox server answers."))
    out.extend(
        _lines(
            "sandbox_server_connections",
            used,
            "gauge",
            "Connections of this installation on each sandbox server, by application.",
        )
    )
    return out
