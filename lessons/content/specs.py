"""What the content pipeline reads and produces: the format's constants and the specs of
tracks, lessons and their parts, and `ContentError` (a file, a line, a message).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any

# Bump when rendering changes, so that `content sync` re-renders files whose text did not change.
RENDER_VERSION = "6"  # 6: exercise hints and the solution are served as they unlock

LESSON_FILE = re.compile(r"^(?P<step>\d{2,3})-(?P<slug>[a-z0-9]+(?:-[a-z0-9]+)*)\.md$")
TRACK_FILE = "track.yml"
FIXTURES_FOLDER = "fixtures"
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
WORDS_PER_MINUTE = 200

LEVELS = ("beginner", "intermediate", "advanced")
MODES = ("reading", "sql_sandbox", "django_lab")
RUNNABLE_MODES = ("sql_sandbox", "django_lab")
MODELS_FOLDER = "models"
MODEL_MODULE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
SANDBOX_LANGUAGES = ("plpgsql", "sql")
PLAN_CHECKS = {
    "index_scan_on": str,
    "uses_index": str,
    "no_seq_scan": str,
    "max_rows_read": int,
    "no_spill": bool,  # only `true`: no sort, hash or hash aggregate of the plan wrote to disk
}
BLOCK_TYPES = ("quiz", "selfcheck", "interview", "flashcards", "pitfall", "example", "exercise")

REQUIRED_KEYS = ("title", "step", "level", "mode", "reviewed", "version", "summary")
OPTIONAL_KEYS = ("discussion", "fixture", "sandbox_languages", "models")
TRACK_KEYS = ("title", "summary", "order")


@dataclass(frozen=True)
class ContentError:
    """A problem at a file's line. ``level`` "error" stops the file from being published;
    "warning" and "note" (a measurement, such as a fixture's seeding time) are only shown."""

    path: str
    line: int
    message: str
    level: str = "error"

    def __str__(self) -> str:
        prefix = "" if self.level == "error" else f"{self.level}: "
        return f"{self.path}:{self.line}: {prefix}{self.message}"

    @property
    def is_error(self) -> bool:
        return self.level == "error"


@dataclass
class Choice:
    key: str
    text_html: str
    correct: bool
    feedback_html: str


@dataclass
class Question:
    key: str
    quiz_title: str
    prompt_html: str
    explanation_html: str
    choices: list[Choice]

    @property
    def allows_many(self) -> bool:
        return sum(choice.correct for choice in self.choices) > 1


@dataclass
class QAItem:
    """A self-check item, an interview question or a flashcard (front = question)."""

    key: str
    question_html: str
    answer_html: str


@dataclass
class Example:
    key: str
    title: str
    sql: str  # in a django_lab lesson, the Python (also in `code`)
    note_html: str
    code: str = ""  # django_lab: the Python; "" for SQL examples


@dataclass
class ExerciseSpec:
    key: str
    title: str
    prompt_html: str
    solution: str
    order_matters: bool
    hints_html: list[str]
    variants: list[dict[str, str]]
    plan_checks: list[dict[str, Any]]
    line: int = 0
    max_queries: int | None = None  # django_lab only


@dataclass
class TrackSpec:
    slug: str
    title: str
    summary: str
    order: int
    path: str
    source_hash: str
    line_of_order: int = 1


@dataclass
class LessonSpec:
    """A lesson as parsed, validated and rendered from one file."""

    path: str  # relative to the content folder, e.g. "postgresql/01-first-queries.md"
    track: str
    slug: str
    step: int
    title: str
    level: str
    mode: str
    reviewed: datetime.date
    version: int
    summary: str
    discussion: list[str]
    fixture: str
    sandbox_languages: list[str]
    source_hash: str
    lab_models: str = ""  # django_lab: content/models/<lab_models>.py
    # The fixture's and model module's text, read with the lesson (what gets published).
    fixture_sql: str = ""
    lab_models_source: str = ""
    body_html: str = ""
    body_text: str = ""
    toc: list[dict[str, Any]] = field(default_factory=list)
    reading_minutes: int = 1
    questions: list[Question] = field(default_factory=list)
    self_checks: list[QAItem] = field(default_factory=list)
    interview: list[QAItem] = field(default_factory=list)
    flashcards: list[QAItem] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    exercises: list[ExerciseSpec] = field(default_factory=list)
    line_of_step: int = 1
    anchors: set[str] = field(default_factory=set)  # every id="…" of the rendered page body
    anchor_links: list[tuple[str, str, int]] = field(default_factory=list)  # (path, anchor, line)


@dataclass
class CheckResult:
    tracks: dict[str, TrackSpec]
    lessons: list[LessonSpec]
    errors: list[ContentError]
    # Every lesson file found (relative paths), valid or not: sync must not unpublish these.
    lesson_files: set[str]
    invalid_tracks: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.errors
