"""The shared limits on runs, kept in the app database so every process sees them: runs per
minute per learner (``RunCounter``) and runs at once per sandbox server (advisory-lock slots,
with a short queue)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db import connection, models
from django.utils import timezone

from config.infra.prepared import execute_lightly
from lessons.models import Learner
from sandbox import metrics


class LimitReached(RuntimeError):
    """A shared limit (runs per minute, runs at once) refused the run; ``retry_after`` seconds.
    ``bound`` names the limit (counted in /metrics)."""

    def __init__(self, message: str, retry_after: int, bound: str = ""):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.bound = bound
        metrics.rejections.labels(bound=bound or "other").inc()


# -- runs per minute, per learner ------------------------------------------------------------


class RunCounter(models.Model):
    """Runs per learner per clock minute, shared by every worker through PostgreSQL."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["learner", "minute"], name="run_counter_unique")
        ]

    def __str__(self) -> str:
        return f"learner {self.learner_id} @ {self.minute:%H:%M}: {self.count}"

    @classmethod
    def prune(cls) -> int:
        deleted, _ = cls.objects.filter(minute__lt=timezone.now() - timedelta(minutes=2)).delete()
        return deleted


def _count_run(learners: str) -> str:
    """A ``hit`` CTE counting one run of each learner in ``learners`` (an SQL FROM item with
    an ``id`` column: a CTE's name, or a VALUES list), answering its ``learner_id``, the
    minute's ``count`` and the ``seconds_left`` in it. No learner, no row."""
    # One atomic statement: the ORM's get-then-set would lose counts between workers.
    table = connection.ops.quote_name(RunCounter._meta.db_table)
    return (
        f"hit AS (INSERT INTO {table} (learner_id, minute, count) "
        f"SELECT id, date_trunc('minute', now()), 1 FROM {learners} WHERE true "
        "ON CONFLICT (learner_id, minute) "
        f"DO UPDATE SET count = {table}.count + 1 "
        "RETURNING learner_id, count, 60 - extract(second FROM now())::int AS seconds_left)"
    )


def _check_rate(count: int, seconds_left: int) -> None:
    limit = settings.SANDBOX_RUNS_PER_MINUTE
    if count > limit:
        raise LimitReached(
            f"Runs per minute limit: at most {limit} runs a minute; "
            f"try again in {max(seconds_left, 1)} s.",
            max(seconds_left, 1),
            "runs_per_minute",
        )


# -- runs at once, per server ------------------------------------------------------------------

_SLOT_NAMESPACE = 0x51_4C_53  # "QLS": advisory-lock key space in the app database
_QUEUE_NAMESPACE = 0x51_4C_51  # "QLQ"
# Parameters: how many slots, the key space, the server's first key. LIMIT 1 stops at the
# first lock taken.
_TAKE_SLOT = (
    "SELECT s FROM generate_series(0, %s - 1) AS s WHERE pg_try_advisory_lock(%s, %s + s) LIMIT 1"
)


def _take(namespace: int, server: int, count: int) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_SLOT, [count, namespace, server * 10_000])
        row = cursor.fetchone()
    return None if row is None else row[0]


def _give_back(namespace: int, server: int, slot: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [namespace, server * 10_000 + slot])


@contextlib.contextmanager
def admitted(learner_id: int, server: int) -> Iterator[None]:
    """Count the learner's run and take a run slot on its server, in one round trip to the app
    database; then as ``run_slot``. Raises LimitReached for either limit."""
    with connection.cursor() as cursor:
        execute_lightly(
            cursor,
            f"WITH {_count_run('(VALUES (%s::bigint)) AS learner (id)')} "
            "SELECT count, seconds_left, "
            f"CASE WHEN count <= %s THEN ({_TAKE_SLOT}) END FROM hit",
            [
                learner_id,
                settings.SANDBOX_RUNS_PER_MINUTE,
                settings.SANDBOX_CONCURRENT_RUNS,
                _SLOT_NAMESPACE,
                server * 10_000,
            ],
        )
        count, seconds_left, slot = cursor.fetchone()
    _check_rate(count, seconds_left)
    with run_slot(server, slot):
        yield


@contextlib.contextmanager
def run_slot(server: int, slot: int | None = None) -> Iterator[None]:
    """Hold one of SANDBOX_CONCURRENT_RUNS slots of a sandbox server for the length of a run.

    Slots are session advisory locks in the app database, so they are shared by every process
    and freed if a process dies. ``slot`` is one already taken (see ``admitted``). When all
    are taken the request waits in a queue of
    SANDBOX_QUEUE_LENGTH places for up to SANDBOX_QUEUE_WAIT_MS; a full queue or a long wait
    raises LimitReached (the API answers 429 with Retry-After).
    """
    if slot is None:
        slot = _take(_SLOT_NAMESPACE, server, settings.SANDBOX_CONCURRENT_RUNS)
    if slot is None:
        place = _take(_QUEUE_NAMESPACE, server, settings.SANDBOX_QUEUE_LENGTH)
        if place is None:
            raise LimitReached(
                "Concurrent runs limit: the sandbox server is busy and its queue is full; "
                "try again in a moment.",
                2,
                "queue_length",
            )
        try:
            deadline = time.monotonic() + settings.SANDBOX_QUEUE_WAIT_MS / 1000
            pause = 0.005
            while slot is None and time.monotonic() < deadline:
                time.sleep(pause)
                pause = min(pause * 2, 0.05)
                slot = _take(_SLOT_NAMESPACE, server, settings.SANDBOX_CONCURRENT_RUNS)
        finally:
            _give_back(_QUEUE_NAMESPACE, server, place)
        if slot is None:
            raise LimitReached(
                f"Concurrent runs limit: {settings.SANDBOX_CONCURRENT_RUNS} runs at once per "
                "sandbox server, and none finished in time; try again in a moment.",
                2,
                "concurrent_runs",
            )
    try:
        yield
    finally:
        _give_back(_SLOT_NAMESPACE, server, slot)
