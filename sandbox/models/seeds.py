"""What sandboxes are seeded from (a lesson's fixture file, or a lab lesson's models and
data)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from django.conf import settings

from lessons.models import Lesson

log = logging.getLogger(__name__)


class FixtureMissing(RuntimeError):
    """The lesson names a fixture file that is not there."""


# Lessons whose page has a sandbox: SQL lessons, and Django ORM lab lessons (sandbox/lab/).
SANDBOX_MODES = (Lesson.Mode.SQL_SANDBOX, Lesson.Mode.DJANGO_LAB)
LAB_SEED_PREFIX = "lab:"


def seed_name(lesson: Lesson) -> str:
    """What a lesson's sandboxes are seeded from, as kept in ``Sandbox.fixture``: its fixture
    file, or for a lab lesson ``lab:<models>+<fixture>`` (the tables Django makes for
    content/models/<models>.py, then the fixture's data)."""
    if lesson.mode == Lesson.Mode.DJANGO_LAB:
        return f"{LAB_SEED_PREFIX}{lesson.lab_models}+{lesson.fixture}"
    return lesson.fixture


def fixture_sql(name: str) -> str:
    """The SQL of a fixture under SANDBOX_FIXTURES_DIR ("" for none). Only plain file names,
    or a lab seed name (``seed_name``)."""
    if not name:
        return ""
    if name.startswith(LAB_SEED_PREFIX):
        from sandbox.lab import seeding

        models, _, data = name[len(LAB_SEED_PREFIX) :].partition("+")
        try:
            ddl = seeding.ddl_for(models)
        except seeding.ModelsBroken as exc:
            raise FixtureMissing(str(exc)) from exc
        return ddl + "\n" + fixture_sql(data)
    folder = Path(settings.SANDBOX_FIXTURES_DIR).resolve()
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        raise FixtureMissing(f"The sandbox fixture {name!r} is not in {folder}.")
    return path.read_text(encoding="utf-8")


def lesson_seed(lesson: Lesson) -> str:
    """The SQL a lesson's sandboxes are seeded from: the fixture (and for a lab lesson the
    model module) as stored when the lesson was last published, so an edit that fails its
    checks never reaches learners. A lesson published before these were stored (or whose file
    was missing then) falls back to the file on disk."""
    fixture = lesson.fixture_sql
    if lesson.fixture and not fixture:
        log.warning("lesson %s has no stored fixture: seeding from the file", lesson.pk)
        fixture = fixture_sql(lesson.fixture)
    if lesson.mode != Lesson.Mode.DJANGO_LAB:
        return fixture
    from sandbox.lab import seeding

    source = lesson.lab_models_source or None
    if source is None:
        log.warning("lab lesson %s has no stored model module: using the file", lesson.pk)
    try:
        ddl = seeding.ddl_for(lesson.lab_models, source=source)
    except seeding.ModelsBroken as exc:
        raise FixtureMissing(str(exc)) from exc
    return ddl + "\n" + fixture


def published_seed(name: str) -> str:
    """The seed text for a seed name (``Sandbox.fixture``): that of the latest published lesson
    seeded from it, else the file's (a name no published lesson uses any more)."""
    lessons = Lesson.objects.published()
    if name.startswith(LAB_SEED_PREFIX):
        models, _, data = name[len(LAB_SEED_PREFIX) :].partition("+")
        lessons = lessons.filter(mode=Lesson.Mode.DJANGO_LAB, lab_models=models, fixture=data)
    else:
        lessons = lessons.filter(mode=Lesson.Mode.SQL_SANDBOX, fixture=name)
    lesson = lessons.order_by("-synced_at", "-pk").first()
    return lesson_seed(lesson) if lesson is not None else fixture_sql(name)


def fixture_digest(sql_text: str) -> str:
    """Pooled sandboxes are seeded from a fixture's exact text, so a changed file is new."""
    return hashlib.sha256(sql_text.encode()).hexdigest()[:32]


def current_digest(lesson: Lesson) -> str:
    """The digest of what the lesson's sandboxes are seeded from today (as published). A
    sandbox whose ``fixture_digest`` differs was seeded from an older version of its data."""
    return fixture_digest(lesson_seed(lesson))
