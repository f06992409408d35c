"""Admitting a run in one round trip to the app database: the learner checked, the lesson, the
learner's sandbox, the run counted and a run slot taken (``admit``), then checked and held
(``held``)."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, models

from config.infra.prepared import PreparedStatement
from lessons.models import Learner, Lesson, Track
from sandbox.models.limits import _SLOT_NAMESPACE, _check_rate, _count_run, run_slot
from sandbox.models.records import Sandbox
from sandbox.models.seeds import SANDBOX_MODES

# What the run needs of the lesson and its track (not the rendered body).
_LESSON_FIELDS = (
    "id",
    "track_id",
    "slug",
    "step",
    "title",
    "mode",
    "fixture",
    "sandbox_languages",
    "lab_models",
    "fixture_sql",  # what its sandboxes are seeded from: is the learner's data current?
    "lab_models_source",
    "is_published",
)
_TRACK_FIELDS = ("id", "slug", "title", "is_published")


@dataclass
class Admission:
    """What ``admit`` found and took in its one round trip (see there)."""

    learner_id: int
    runs_this_minute: int
    seconds_left: int
    slot: int | None
    lesson: Lesson | None
    sandbox: Sandbox | None


def _sandbox_fields() -> list[str]:
    return [field.attname for field in Sandbox._meta.concrete_fields]


@functools.cache
def _admission_statement() -> PreparedStatement:
    """``admit``'s statement, prepared on each app-database connection: it runs on every run,
    and planning it costs more than twice what running it does (0.28 ms against 0.11 ms,
    ``EXPLAIN (ANALYZE, SUMMARY)`` with the learner check, 2026-12-06). Each
    column is named "<model>__<field>", so the row is read by name. The sandbox state and
    lesson mode are written into the text, not passed: with them as parameters the partial
    index on active sandboxes could not serve a generic plan, so PostgreSQL planned the
    statement anew every time."""
    quote = connection.ops.quote_name
    columns = [
        *(f"l.{quote(name)} AS {quote('lesson__' + name)}" for name in _LESSON_FIELDS),
        *(f"t.{quote(name)} AS {quote('track__' + name)}" for name in _TRACK_FIELDS),
        *(
            f"s.{quote(field.column)} AS {quote('sandbox__' + field.attname)}"
            for field in Sandbox._meta.concrete_fields
        ),
    ]
    active = _literal(Sandbox.State.ACTIVE)
    sandbox_modes = ", ".join(_literal(mode) for mode in SANDBOX_MODES)
    # $1 the session's Learner id, $2 the signed-in user's id (null for a visitor), $3 track
    # slug, $4 lesson slug, $5 runs a minute, $6 run slots, $7 the slots' advisory-lock key
    # space. The learner must be the session's and belong to the user (or to nobody, for a
    # visitor); if not, no row comes back and nothing is counted.
    body = (
        f"WITH learner AS (SELECT id FROM {quote(Learner._meta.db_table)} "
        "WHERE id = $1 AND user_id IS NOT DISTINCT FROM $2), "
        f"{_count_run('learner')}, found AS ("
        f"SELECT {', '.join(columns)} FROM {quote(Lesson._meta.db_table)} l "
        f"JOIN {quote(Track._meta.db_table)} t ON t.id = l.track_id "
        f"LEFT JOIN {quote(Sandbox._meta.db_table)} s ON s.lesson_id = l.id "
        f"AND s.state = {active} AND s.learner_id = $1 AND l.mode IN ({sandbox_modes}) "
        "WHERE t.slug = $3 AND l.slug = $4 AND l.is_published AND t.is_published LIMIT 1) "
        "SELECT hit.learner_id, hit.count AS runs_this_minute, hit.seconds_left, "
        "CASE WHEN hit.count <= $5 AND found.sandbox__id IS NOT NULL THEN "
        "(SELECT g FROM generate_series(0, $6 - 1) AS g "
        "WHERE pg_try_advisory_lock($7, found.sandbox__server * 10000 + g) LIMIT 1) END AS slot, "
        "found.* FROM hit LEFT JOIN found ON true"
    )
    types = ["bigint", "integer", "text", "text", "integer", "integer", "integer"]
    return PreparedStatement("querylab_admit", types, body)


def _literal(value: str) -> str:
    """A constant of the code (never input) as an SQL string literal."""
    if not value.replace("_", "").isalnum():
        raise ValueError(f"not a plain constant: {value!r}")
    return f"'{value}'"


def admit(learner_id: int | None, user_id: int | None, lesson_ref: str) -> Admission | None:
    """The hot path of every run, in one round trip to the app database: check that
    ``learner_id`` (the session's) is the signed-in user's Learner (``user_id``), or a
    visitor's when ``user_id`` is None; find the published lesson "<track>/<slug>" and the
    learner's active sandbox for it, count the run, and take a run slot on the sandbox's
    server (only when the rate allows and the sandbox exists). None when the learner is not
    the session's to use (none yet, or another's): the caller finds or makes the right one
    (``lessons.learners.learner_for``) and admits again. Nothing else is checked here;
    ``held`` raises for the limits."""
    if learner_id is None:
        return None
    track_slug, _, slug = lesson_ref.partition("/")
    params = [
        learner_id,
        user_id,
        track_slug,
        slug,
        settings.SANDBOX_RUNS_PER_MINUTE,
        settings.SANDBOX_CONCURRENT_RUNS,
        _SLOT_NAMESPACE,
    ]
    with connection.cursor() as cursor:
        _admission_statement().execute(cursor, params)
        row = cursor.fetchone()
        if row is None:
            return None
        named = dict(zip((column.name for column in cursor.description), row, strict=True))
    lesson = sandbox = None
    if named["lesson__id"] is not None:
        lesson = _instance(Lesson, "lesson", _LESSON_FIELDS, named)
        lesson.track = _instance(Track, "track", _TRACK_FIELDS, named)
        if named["sandbox__id"] is not None:
            sandbox = _instance(Sandbox, "sandbox", _sandbox_fields(), named)
            sandbox.lesson = lesson
    return Admission(
        learner_id=named["learner_id"],
        runs_this_minute=named["runs_this_minute"],
        seconds_left=named["seconds_left"],
        slot=named["slot"],
        lesson=lesson,
        sandbox=sandbox,
    )


def _instance(model: type[models.Model], prefix: str, fields, named: dict) -> models.Model:
    """A model instance from the row's "<prefix>__<field>" columns, as the ORM would load it
    (JSON columns arrive as text from a raw cursor)."""
    values = []
    for name in fields:
        value = named[f"{prefix}__{name}"]
        if isinstance(value, str) and isinstance(model._meta.get_field(name), models.JSONField):
            value = json.loads(value)
        values.append(value)
    return model.from_db(connection.alias, list(fields), values)


@contextlib.contextmanager
def held(admission: Admission) -> Iterator[tuple[Lesson | None, Sandbox | None]]:
    """Check the admission against the limits and hold its run slot as ``run_slot`` does.

    Yields ``(lesson, sandbox)``: the lesson (its track attached, without its rendered body) or
    None when there is no such published lesson; the sandbox (its lesson attached) or None when
    the learner has none for a sandbox lesson yet. Without a sandbox the run is counted but no
    slot is taken: the caller places the sandbox first (then ``run_slot(server)``). Raises
    LimitReached for either limit."""
    # Over the rate, no slot was taken.
    _check_rate(admission.runs_this_minute, admission.seconds_left)
    if admission.sandbox is None:
        yield admission.lesson, None
        return
    with run_slot(admission.sandbox.server, admission.slot):
        yield admission.lesson, admission.sandbox
