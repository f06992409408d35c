"""The catalog: tracks, lessons and their structured parts, as published from content/ by
`manage.py content sync`, and full-text search over them.

A lesson is identified by its track and slug (the file name without its `NN-` step prefix), so
learner data attached to it survives edits and renumbering.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVector,
    SearchVectorField,
)
from django.db import models
from django.db.models import F
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe

if TYPE_CHECKING:
    from lessons.content import LessonSpec


SEARCH_CONFIG = "english"
# Private-use characters that cannot occur in lesson text: ts_headline marks matches with them,
# then snippet_html() escapes everything and turns only these into <mark> tags.
HIGHLIGHT_START = "\ue000"
HIGHLIGHT_STOP = "\ue001"


def snippet_html(headline: str) -> str:
    """A ts_headline result as safe HTML: escaped text, matches in <mark>."""
    escaped = escape(headline)
    return mark_safe(  # noqa: S308 - everything but our own two tags is escaped above
        escaped.replace(HIGHLIGHT_START, "<mark>").replace(HIGHLIGHT_STOP, "</mark>")
    )


def cached_reverse(name: str, *args: str) -> str:
    """``reverse(name, args=args)``, remembered: a lesson page links every step of its track
    (twice), and each ``reverse`` costs tens of microseconds. Keyed by the URLconf and script
    prefix too, so a request under another prefix or URLconf gets its own answer."""
    return _reverse(name, args, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)


@functools.lru_cache(maxsize=4096)
def _reverse(name: str, args: tuple[str, ...], prefix: str, urlconf: str) -> str:
    return reverse(name, args=args, urlconf=urlconf)


@dataclass(frozen=True)
class TrackPosition:
    """Where a lesson sits in its track's outline."""

    steps: list[Lesson]
    index: int

    @classmethod
    def of(cls, lesson: Lesson, steps: list[Lesson]) -> TrackPosition:
        index = next(i for i, step in enumerate(steps) if step.pk == lesson.pk)
        return cls(steps, index)

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def total(self) -> int:
        return len(self.steps)

    @property
    def percent(self) -> int:
        """Share of the track covered once this step is read (position-based, not progress)."""
        return round(100 * self.number / self.total)

    @property
    def previous(self) -> Lesson | None:
        return self.steps[self.index - 1] if self.index > 0 else None

    @property
    def next(self) -> Lesson | None:
        return self.steps[self.index + 1] if self.number < self.total else None


class TrackQuerySet(models.QuerySet):
    def published(self) -> TrackQuerySet:
        return self.filter(is_published=True)

    def with_lesson_counts(self) -> TrackQuerySet:
        """Annotate lesson_count, minutes (reading time) and first_slug (where to start)."""
        published = models.Q(lessons__is_published=True)
        first = (
            Lesson.objects.filter(track=models.OuterRef("pk"), is_published=True)
            .order_by("step")
            .values("slug")[:1]
        )
        # Ordered here: Django drops Meta.ordering from a query with a GROUP BY, so without it
        # the home page would list tracks in whatever order PostgreSQL's grouping gave.
        return (
            self.annotate(
                lesson_count=models.Count("lessons", filter=published),
                minutes=models.Sum("lessons__reading_minutes", filter=published),
                first_slug=models.Subquery(first),
            )
            .filter(lesson_count__gt=0)
            .order_by("order", "title")
        )


class Track(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)
    is_published = models.BooleanField(default=True)
    source_hash = models.CharField(max_length=64, blank=True)

    objects = TrackQuerySet.as_manager()

    class Meta:
        ordering = ["order", "title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return cached_reverse("lessons:track", self.slug)


class LessonQuerySet(models.QuerySet):
    def published(self) -> LessonQuerySet:
        return self.filter(is_published=True, track__is_published=True)

    def search(self, text: str) -> LessonQuerySet:
        """Published lessons matching `text` (web-search syntax), best first.

        Each has `rank` and `headline`: body text around the matches, with the matched words
        between HIGHLIGHT_START and HIGHLIGHT_STOP (see `snippet_html`).
        """
        query = SearchQuery(text, config=SEARCH_CONFIG, search_type="websearch")
        return (
            self.published()
            .filter(search_vector=query)
            .annotate(
                rank=SearchRank(F("search_vector"), query),
                headline=SearchHeadline(
                    "body_text",
                    query,
                    config=SEARCH_CONFIG,
                    start_sel=HIGHLIGHT_START,
                    stop_sel=HIGHLIGHT_STOP,
                    max_words=32,
                    min_words=12,
                    max_fragments=2,
                    fragment_delimiter=" … ",
                ),
            )
            .order_by("-rank", "track__order", "step")
        )

    def outline(self, track: Track) -> list[Lesson]:
        """The published steps of a track, light enough for menus (no bodies)."""
        steps = list(
            self.published()
            .filter(track=track)
            .only(
                "id",
                "track_id",
                "slug",
                "step",
                "title",
                "summary",
                "level",
                "mode",
                "reading_minutes",
            )
            .order_by("step")
        )
        for step in steps:
            step.track = track  # so that get_absolute_url() needs no query per step
        return steps

    def published_at(self, track: str, slug: str) -> LessonQuerySet:
        """The published lesson at /learn/<track>/<slug>/, with its track: at most one row."""
        return self.published().select_related("track").filter(track__slug=track, slug=slug)

    def by_ref(self, ref: str) -> Lesson:
        """The published lesson named by "<track>/<slug>"; raises Lesson.DoesNotExist."""
        track_slug, _, slug = ref.partition("/")
        return self.published_at(track_slug, slug).get()


class Lesson(models.Model):
    class Mode(models.TextChoices):
        READING = "reading", "Reading"
        SQL_SANDBOX = "sql_sandbox", "SQL sandbox"
        DJANGO_LAB = "django_lab", "Django ORM lab"

    class Level(models.TextChoices):
        BEGINNER = "beginner", "Beginner"
        INTERMEDIATE = "intermediate", "Intermediate"
        ADVANCED = "advanced", "Advanced"

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="lessons")
    slug = models.SlugField()
    step = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.READING)
    # The sandbox fixture's file name under content/fixtures/, or "" for an empty schema.
    fixture = models.CharField(max_length=200, blank=True)
    # Procedural languages this lesson's sandboxes may use (for example ["plpgsql"]).
    sandbox_languages = models.JSONField(default=list, blank=True)
    # django_lab lessons: the model module content/models/<lab_models>.py (sandbox/lab/).
    lab_models = models.CharField(max_length=50, blank=True)
    # What sandboxes are seeded from, as published (sandbox/models/seeds.py): the fixture's and
    # the lab model module's text when `content sync` last published the lesson, so an edit
    # that fails its checks stays off learners' sandboxes. "" with a name: not stored (a lesson
    # published before these fields, its file missing then): seeding reads the file.
    fixture_sql = models.TextField(blank=True)
    lab_models_source = models.TextField(blank=True)
    is_published = models.BooleanField(default=True)

    level = models.CharField(max_length=20, choices=Level.choices, default=Level.BEGINNER)
    summary = models.TextField(blank=True)
    reviewed = models.DateField(null=True, blank=True)
    content_version = models.PositiveIntegerField(default=1)
    discussion_topics = models.JSONField(default=list, blank=True)
    # Rendered once by `content sync` (lessons/content.py); never parsed per request.
    body_html = models.TextField(blank=True)
    body_text = models.TextField(blank=True)  # plain text, for search snippets
    toc = models.JSONField(default=list, blank=True)  # [{"id", "title", "level"}]
    reading_minutes = models.PositiveIntegerField(default=1)
    source_path = models.CharField(max_length=300, blank=True)  # relative to CONTENT_DIR
    source_hash = models.CharField(max_length=64, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    # Kept by `content sync`: title (A), summary (B), body (C).
    search_vector = SearchVectorField(null=True, editable=False)

    objects = LessonQuerySet.as_manager()

    class Meta:
        ordering = ["track", "step"]
        constraints = [
            models.UniqueConstraint(fields=["track", "slug"], name="lesson_unique_slug_in_track"),
        ]
        indexes = [GinIndex(fields=["search_vector"], name="lesson_search_vector_gin")]

    def __str__(self) -> str:
        return f"{self.track.slug}/{self.slug}"

    def get_absolute_url(self) -> str:
        return cached_reverse("lessons:detail", self.track.slug, self.slug)

    @property
    def ref(self) -> str:
        """The "<track>/<slug>" name the sandbox API uses."""
        return f"{self.track.slug}/{self.slug}"

    def fill_from(self, spec: LessonSpec) -> None:
        """Copy a parsed lesson's fields onto this (possibly unsaved) lesson; used by preview."""
        self.step = spec.step
        self.title = spec.title
        self.mode = spec.mode
        self.fixture = spec.fixture
        self.sandbox_languages = spec.sandbox_languages
        self.lab_models = spec.lab_models
        self.fixture_sql = spec.fixture_sql
        self.lab_models_source = spec.lab_models_source
        self.level = spec.level
        self.summary = spec.summary
        self.reviewed = spec.reviewed
        self.content_version = spec.version
        self.discussion_topics = spec.discussion
        self.body_html = spec.body_html
        self.body_text = spec.body_text
        self.toc = spec.toc
        self.reading_minutes = spec.reading_minutes
        self.source_path = spec.path
        self.source_hash = spec.source_hash

    def publish(self, spec: LessonSpec) -> None:
        """Store a validated, rendered lesson and its parts, keeping learner data attached.

        Parts are matched by their source ids; parts that left the source become inactive
        rather than deleted, so attempts and threads pointing at them are kept.
        """
        self.fill_from(spec)
        self.synced_at = timezone.now()
        self.is_published = True
        self.save()
        Lesson.objects.filter(pk=self.pk).update(
            search_vector=SearchVector("title", weight="A", config=SEARCH_CONFIG)
            + SearchVector("summary", weight="B", config=SEARCH_CONFIG)
            + SearchVector("body_text", weight="C", config=SEARCH_CONFIG)
        )
        self._publish_quiz(spec)
        self._publish_parts(spec)

    def _publish_quiz(self, spec: LessonSpec) -> None:
        questions = QuizQuestion.objects.keep(
            self,
            {
                q.key: {
                    "quiz_title": q.quiz_title,
                    "prompt_html": q.prompt_html,
                    "explanation_html": q.explanation_html,
                    "allows_many": q.allows_many,
                }
                for q in spec.questions
            },
        )
        for question_spec in spec.questions:
            question = questions[question_spec.key]
            rows = {
                c.key: {
                    "text_html": c.text_html,
                    "is_correct": c.correct,
                    "feedback_html": c.feedback_html,
                }
                for c in question_spec.choices
            }
            _keep_rows(QuizChoice.objects.filter(question=question), {"question": question}, rows)

    def _publish_parts(self, spec: LessonSpec) -> None:
        SelfCheckItem.objects.keep(
            self,
            {
                i.key: {"question_html": i.question_html, "answer_html": i.answer_html}
                for i in spec.self_checks
            },
        )
        InterviewQuestion.objects.keep(
            self,
            {
                i.key: {"question_html": i.question_html, "answer_html": i.answer_html}
                for i in spec.interview
            },
        )
        Flashcard.objects.keep(
            self,
            {
                c.key: {"front_html": c.question_html, "back_html": c.answer_html}
                for c in spec.flashcards
            },
        )
        SqlExample.objects.keep(
            self,
            {
                e.key: {"title": e.title, "sql": e.sql, "note_html": e.note_html}
                for e in spec.examples
            },
        )
        Exercise.objects.keep(
            self,
            {
                e.key: {
                    "title": e.title,
                    "prompt_html": e.prompt_html,
                    "solution_sql": e.solution,
                    "order_matters": e.order_matters,
                    "hints_html": e.hints_html,
                    "variants": e.variants,
                    "plan_checks": e.plan_checks,
                    "max_queries": e.max_queries,
                }
                for e in spec.exercises
            },
        )


# -- The structured parts of a lesson -------------------------------------------------------
#
# Each item has a `key`: the `id` its author gave it in the Markdown source. Sync updates rows in
# place by (lesson, key) and only marks items that left the source as inactive, so learner data
# (quiz attempts, confidence, discussion threads) can point at these rows by foreign key and
# survive edits, renumbering and re-syncs. Correct answers, feedback and explanations live in
# their own columns and are never part of Lesson.body_html.


def _keep_rows(
    queryset: models.QuerySet, parent: dict[str, Any], rows: dict[str, dict[str, Any]]
) -> dict[str, models.Model]:
    """Upsert `rows` (key → fields, in source order) under `parent`; deactivate the others."""
    existing = {obj.key: obj for obj in queryset}
    kept: dict[str, models.Model] = {}
    for position, (key, fields) in enumerate(rows.items()):
        obj = existing.get(key) or queryset.model(key=key, **parent)
        for name, value in {**fields, "position": position, "is_active": True}.items():
            setattr(obj, name, value)
        obj.save()
        kept[key] = obj
    queryset.exclude(key__in=list(rows)).update(is_active=False)
    return kept


class LessonPartQuerySet(models.QuerySet):
    def active(self) -> LessonPartQuerySet:
        return self.filter(is_active=True)

    def keep(self, lesson: Lesson, rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Make the lesson's parts of this kind exactly `rows` (key → fields), in place."""
        return _keep_rows(self.filter(lesson=lesson), {"lesson": lesson}, rows)


class LessonPart(models.Model):
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="+")
    key = models.SlugField(max_length=100)
    position = models.PositiveIntegerField(default=0)  # order within the lesson
    is_active = models.BooleanField(default=True)

    objects = LessonPartQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["lesson", "position"]
        # Each concrete part gets its own: quizquestion_unique_key, flashcard_unique_key, …
        constraints = [
            models.UniqueConstraint(fields=["lesson", "key"], name="%(class)s_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.lesson_id}:{self.key}"


class QuizQuestion(LessonPart):
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="quiz_questions")
    quiz_title = models.CharField(max_length=200, blank=True)
    prompt_html = models.TextField()
    explanation_html = models.TextField()  # shown after answering, whatever the answer
    allows_many = models.BooleanField(default=False)  # more than one correct choice


class QuizChoice(models.Model):
    question = models.ForeignKey(QuizQuestion, on_delete=models.CASCADE, related_name="choices")
    key = models.SlugField(max_length=100)  # the author's id, else its letter: a, b, c…
    position = models.PositiveIntegerField(default=0)
    text_html = models.TextField()
    is_correct = models.BooleanField(default=False)
    feedback_html = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["question", "position"]
        constraints = [
            models.UniqueConstraint(fields=["question", "key"], name="quizchoice_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.question}:{self.key}"


class SelfCheckItem(LessonPart):
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="self_checks")
    question_html = models.TextField()
    answer_html = models.TextField()


class InterviewQuestion(LessonPart):
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="interview_questions")
    question_html = models.TextField()
    answer_html = models.TextField()


class Flashcard(LessonPart):
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="flashcards")
    front_html = models.TextField()
    back_html = models.TextField()


class SqlExample(LessonPart):
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="sql_examples")
    title = models.CharField(max_length=200, blank=True)
    sql = models.TextField()
    note_html = models.TextField(blank=True)


class Exercise(LessonPart):
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="exercises")
    title = models.CharField(max_length=200, blank=True)
    prompt_html = models.TextField()
    solution_sql = models.TextField()  # never sent to learners
    order_matters = models.BooleanField(default=False)
    hints_html = models.JSONField(default=list, blank=True)
    # [{"id": str, "setup": str}]: SQL run after the fixture; the answer must pass each one.
    variants = models.JSONField(default=list, blank=True)
    # [{"check": "index_scan_on"|"uses_index"|"no_seq_scan"|"max_rows_read"|"no_spill",
    #   "value": str|int|True}]
    plan_checks = models.JSONField(default=list, blank=True)
    # django_lab exercises: at most this many statements (None: no limit). In a lab lesson
    # solution_sql holds the reference Python, and SqlExample.sql an example's Python.
    max_queries = models.PositiveIntegerField(null=True, blank=True)


class ContentRevisionQuerySet(models.QuerySet):
    def current(self) -> int:
        """The id of the latest revision (0 before the first sync): cached pages compare it."""
        return self.aggregate(latest=models.Max("id"))["latest"] or 0


class ContentRevision(models.Model):
    """One row per `content sync` that changed what is published: a log, and a cache stamp."""

    created_at = models.DateTimeField(auto_now_add=True)
    published = models.JSONField(default=list)  # lesson paths
    unpublished = models.JSONField(default=list)  # lesson refs

    objects = ContentRevisionQuerySet.as_manager()

    def __str__(self) -> str:
        return f"revision {self.pk} at {self.created_at:%Y-%m-%d %H:%M}"


# == Discussion ===============================================================================
#
# Every lesson has a discussion: threads (a title and an opening post) and replies. A reply's
# `parent` is the post it answers; pages show replies one level deep under the reply they
# belong to, with "replying to @name" when they answer a reply. Text is Markdown rendered once on
# save (lessons/discussion_text.py). Authors soft-delete, so replies stay readable; moderators
# hide and restore, lock and pin, and every moderator action is a ModerationAction row.
