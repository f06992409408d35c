"""Admitting a run in one round trip to the app database: the lesson, the learner's
sandbox, the run counted and a run slot taken (``admit``), then checked and held (``held``)."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from config.infra.prepared import PreparedStatement
from lessons.models import Lesson, Track
from sandbox.models.limits import _SLOT_NAMESPACE, _check_rate, _count_run, run_slot
from sandbox.models.records import Sandbox
from sandbox.models.seeds import SANDBOX_MODES

_LESSON_COLUMNS = (
    "id",
    "track_id",
    "slug",
    "step",
    "title",
    "mode",
    "fixture",
    "sandbox_languages",
    "lab_models",
    "is_published",
)
_TRACK_COLUMNS = ("id", "slug", "title", "is_published")


@dataclass
class Admission:
    """What ``admit`` found and took in its one round trip (see there)."""

    learner_key: str
    count: int
    seconds_left: int
    slot: int | None
    lesson: Lesson | None
    sandbox: Sandbox | None


@functools.cache
def _admission_statement() -> tuple[PreparedStatement, int]:
    """``admit``'s statement, prepared on each app-database connection (it runs on every run:
    planning it cost several times what running it does), and where its sandbox columns
    start. The sandbox state and lesson mode are written into the text, not passed: with
    them as parameters the partial index on active sandboxes could not serve a generic plan,
    so PostgreSQL planned the statement anew every time."""
    quote = connection.ops.quote_name
    sandbox_columns = [field.column for field in Sandbox._meta.concrete_fields]
    columns = (
        [f"l.{quote(column)}" for column in _LESSON_COLUMNS]
        + [f"t.{quote(column)}" for column in _TRACK_COLUMNS]
        + [f"s.{quote(column)}" for column in sandbox_columns]
    )
    # Aliased, since the three tables share column names.
    select = ", ".join(f"{column} AS c{index}" for index, column in enumerate(columns))
    first = len(_LESSON_COLUMNS) + len(_TRACK_COLUMNS)
    sandbox_id = f"found.c{first + sandbox_columns.index('id')}"
    server = f"found.c{first + sandbox_columns.index('server')}"
    active = _literal(Sandbox.State.ACTIVE)
    sandbox_modes = ", ".join(_literal(mode) for mode in SANDBOX_MODES)
    # $1 learner key, $2 track slug, $3 lesson slug, $4 runs a minute, $5 run slots, $6 the
    # slots' advisory-lock key space.
    body = (
        f"{_count_run('$1')}, found AS ("
        f"SELECT {select} FROM {quote(Lesson._meta.db_table)} l "
        f"JOIN {quote(Track._meta.db_table)} t ON t.id = l.track_id "
        f"LEFT JOIN {quote(Sandbox._meta.db_table)} s ON s.lesson_id = l.id "
        f"AND s.state = {active} AND s.learner_key = $1 AND l.mode IN ({sandbox_modes}) "
        "WHERE t.slug = $2 AND l.slug = $3 AND l.is_published AND t.is_published LIMIT 1) "
        f"SELECT hit.count, hit.seconds_left, CASE WHEN hit.count <= $4 AND {sandbox_id} "
        "IS NOT NULL THEN (SELECT g FROM generate_series(0, $5 - 1) AS g "
        f"WHERE pg_try_advisory_lock($6, {server} * 10000 + g) LIMIT 1) END, found.* "
        "FROM hit LEFT JOIN found ON true"
    )
    types = ["text", "text", "text", "integer", "integer", "integer"]
    return PreparedStatement("querylab_admit", types, body), first


def _literal(value: str) -> str:
    """A constant of the code (never input) as an SQL string literal."""
    if not value.replace("_", "").isalnum():
        raise ValueError(f"not a plain constant: {value!r}")
    return f"'{value}'"


def admit(learner_key: str, lesson_ref: str) -> Admission:
    """The hot path of every run, in one round trip to the app database: find the published
    lesson "<track>/<slug>" and the learner's active sandbox for it, count the run, and take a
    run slot on the sandbox's server (only when the rate allows and the sandbox exists).
    Nothing is checked here; ``held`` raises for the limits."""
    statement, first = _admission_statement()
    track_slug, _, slug = lesson_ref.partition("/")
    params = [
        learner_key,
        track_slug,
        slug,
        settings.SANDBOX_RUNS_PER_MINUTE,
        settings.SANDBOX_CONCURRENT_RUNS,
        _SLOT_NAMESPACE,
    ]
    with connection.cursor() as cursor:
        statement.execute(cursor, params)
        count, seconds_left, slot, *values = cursor.fetchone()
    lesson = sandbox = None
    if values[0] is not None:
        lesson = _lesson_from_row(values[:first])
        if values[first] is not None:
            sandbox = Sandbox.from_db(
                connection.alias,
                [field.attname for field in Sandbox._meta.concrete_fields],
                values[first:],
            )
            sandbox.lesson = lesson
    return Admission(learner_key, count, seconds_left, slot, lesson, sandbox)


@contextlib.contextmanager
def held(admission: Admission) -> Iterator[tuple[Lesson | None, Sandbox | None]]:
    """Check the admission against the limits and hold its run slot as ``run_slot`` does.

    Yields ``(lesson, sandbox)``: the lesson (its track attached, without its rendered body) or
    None when there is no such published lesson; the sandbox (its lesson attached) or None when
    the learner has none for a sandbox lesson yet. Without a sandbox the run is counted but no
    slot is taken: the caller places the sandbox first (then ``run_slot(server)``). Raises
    LimitReached for either limit."""
    _check_rate(admission.count, admission.seconds_left)  # over the rate, no slot was taken
    if admission.sandbox is None:
        yield admission.lesson, None
        return
    with run_slot(admission.sandbox.server, admission.slot):
        yield admission.lesson, admission.sandbox


def _lesson_from_row(values: list) -> Lesson:
    values = list(values)
    languages = _LESSON_COLUMNS.index("sandbox_languages")
    if isinstance(values[languages], str):
        values[languages] = json.loads(values[languages])
    lesson = Lesson.from_db(connection.alias, list(_LESSON_COLUMNS), values[: len(_LESSON_COLUMNS)])
    lesson.track = Track.from_db(
        connection.alias, list(_TRACK_COLUMNS), values[len(_LESSON_COLUMNS) :]
    )
    return lesson
