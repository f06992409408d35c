"""What sandboxes are seeded from (a lesson's fixture file, or a lab lesson's models and
data)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.conf import settings

from lessons.models import Lesson


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


def fixture_digest(sql_text: str) -> str:
    """Pooled sandboxes are seeded from a fixture's exact text, so a changed file is new."""
    return hashlib.sha256(sql_text.encode()).hexdigest()[:32]


def current_digest(lesson: Lesson) -> str:
    """The digest of what the lesson's sandboxes are seeded from today. A sandbox whose
    ``fixture_digest`` differs was seeded from an older version of the lesson's data."""
    return fixture_digest(fixture_sql(seed_name(lesson)))
