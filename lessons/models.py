"""Tracks and lessons, as published from content/ by `manage.py content sync`.

A lesson is identified by its track and slug (the file name without its `NN-` step prefix), so
learner data attached to it survives edits and renumbering.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVector,
    SearchVectorField,
)
from django.core.cache import cache
from django.db import models, transaction
from django.db.models import F
from django.db.models.functions import Cast
from django.db.models.signals import post_delete, post_save
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe

from lessons.discussion_text import render_post

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
        return self.annotate(
            lesson_count=models.Count("lessons", filter=published),
            minutes=models.Sum("lessons__reading_minutes", filter=published),
            first_slug=models.Subquery(first),
        ).filter(lesson_count__gt=0)


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

    def by_ref(self, ref: str) -> Lesson:
        """The published lesson named by "<track>/<slug>"; raises Lesson.DoesNotExist."""
        track_slug, _, slug = ref.partition("/")
        return self.published().select_related("track").get(track__slug=track_slug, slug=slug)


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

    def __str__(self) -> str:
        return f"{self.lesson_id}:{self.key}"


class QuizQuestion(LessonPart):
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="quiz_questions")
    quiz_title = models.CharField(max_length=200, blank=True)
    prompt_html = models.TextField()
    explanation_html = models.TextField()  # shown after answering, whatever the answer
    allows_many = models.BooleanField(default=False)  # more than one correct choice

    class Meta(LessonPart.Meta):
        constraints = [
            models.UniqueConstraint(fields=["lesson", "key"], name="quizquestion_unique_key")
        ]


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

    class Meta(LessonPart.Meta):
        constraints = [
            models.UniqueConstraint(fields=["lesson", "key"], name="selfcheckitem_unique_key")
        ]


class InterviewQuestion(LessonPart):
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="interview_questions")
    question_html = models.TextField()
    answer_html = models.TextField()

    class Meta(LessonPart.Meta):
        constraints = [
            models.UniqueConstraint(fields=["lesson", "key"], name="interviewquestion_unique_key")
        ]


class Flashcard(LessonPart):
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="flashcards")
    front_html = models.TextField()
    back_html = models.TextField()

    class Meta(LessonPart.Meta):
        constraints = [
            models.UniqueConstraint(fields=["lesson", "key"], name="flashcard_unique_key")
        ]


class SqlExample(LessonPart):
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="sql_examples")
    title = models.CharField(max_length=200, blank=True)
    sql = models.TextField()
    note_html = models.TextField(blank=True)

    class Meta(LessonPart.Meta):
        constraints = [
            models.UniqueConstraint(fields=["lesson", "key"], name="sqlexample_unique_key")
        ]


class Exercise(LessonPart):
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="exercises")
    title = models.CharField(max_length=200, blank=True)
    prompt_html = models.TextField()
    solution_sql = models.TextField()  # never sent to learners
    order_matters = models.BooleanField(default=False)
    hints_html = models.JSONField(default=list, blank=True)
    # [{"id": str, "setup": str}]: SQL run after the fixture; the answer must pass each one.
    variants = models.JSONField(default=list, blank=True)
    # [{"check": "index_scan_on"|"uses_index"|"no_seq_scan"|"max_rows_read", "value": str|int}]
    plan_checks = models.JSONField(default=list, blank=True)
    # django_lab exercises: at most this many statements (None: no limit). In a lab lesson
    # solution_sql holds the reference Python, and SqlExample.sql an example's Python.
    max_queries = models.PositiveIntegerField(null=True, blank=True)

    class Meta(LessonPart.Meta):
        constraints = [
            models.UniqueConstraint(fields=["lesson", "key"], name="exercise_unique_key")
        ]


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


class DiscussionLimit(NamedTuple):
    """Why a user may not post right now, and when they may try again."""

    message: str
    retry_after: int  # seconds


class ThreadQuerySet(models.QuerySet):
    def listed(self) -> ThreadQuerySet:
        """Pinned first, then newest activity first, with the number of replies."""
        return (
            self.select_related("author", "lesson__track")
            .annotate(
                reply_count=models.Count(
                    "posts",
                    filter=models.Q(posts__parent__isnull=False, posts__deleted_at__isnull=True),
                )
            )
            .order_by("-is_pinned", "-last_activity_at", "-id")
        )

    @transaction.atomic
    def start(
        self, *, lesson: Lesson, author, title: str, body: str, starter_topic: str = ""
    ) -> Thread:
        """A new thread on `lesson` with its opening post."""
        thread = self.create(lesson=lesson, author=author, title=title, starter_topic=starter_topic)
        Post.objects.create(thread=thread, author=author, body=body)
        return thread


class Thread(models.Model):
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="threads")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="discussion_threads",
    )
    title = models.CharField(max_length=200)
    # The lesson's starter topic this thread was started from, if any (its text at the time).
    starter_topic = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_activity_at = models.DateTimeField(default=timezone.now)
    is_locked = models.BooleanField(default=False)
    is_pinned = models.BooleanField(default=False)
    answer = models.ForeignKey(
        "Post", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = ThreadQuerySet.as_manager()

    class Meta:
        ordering = ["-is_pinned", "-last_activity_at"]
        indexes = [
            models.Index(
                fields=["lesson", "-is_pinned", "-last_activity_at"], name="thread_listing_idx"
            )
        ]
        constraints = [
            # "Pin one": pinning a thread unpins the lesson's previous pinned thread.
            models.UniqueConstraint(
                fields=["lesson"],
                condition=models.Q(is_pinned=True),
                name="thread_one_pinned_per_lesson",
            )
        ]

    def __str__(self) -> str:
        return self.title

    def can_reply(self, user) -> bool:
        return user.is_authenticated and (not self.is_locked or user.is_staff)

    def can_mark_answer(self, user) -> bool:
        return user.is_authenticated and (user.is_staff or user.pk == self.author_id)

    def can_mark_as_answer(self, user, post: Post) -> bool:
        """The asker marks someone else's visible reply; staff mark any visible reply."""
        return (
            self.can_mark_answer(user)
            and not post.is_opening
            and not post.is_deleted
            and not post.is_hidden
            and (user.is_staff or post.author_id != user.pk)
        )

    @staticmethod
    def attach_posts(threads: list[Thread], user) -> None:
        """Load the posts of `threads` in one query and arrange them for display.

        Each thread gets `opening` (its first post) and `reply_groups`: [(reply, [nested…])],
        a reply to a reply sitting under the top-level reply it descends from, the group
        holding the accepted answer first. Every post gets the `user_can_*` flags templates need.
        """
        by_thread: dict[int, list[Post]] = {thread.pk: [] for thread in threads}
        for post in Post.objects.filter(thread__in=by_thread).for_display(user):
            by_thread[post.thread_id].append(post)
        for thread in threads:
            posts = by_thread[thread.pk]
            by_id = {post.pk: post for post in posts}
            thread.opening = next((post for post in posts if post.is_opening), None)
            thread.user_can_reply = thread.can_reply(user)
            thread.user_can_mark_answer = thread.can_mark_answer(user)
            groups: dict[int, tuple[Post, list[Post]]] = {}
            for post in posts:
                post.thread = thread  # already loaded; keeps permission checks query-free
                post.is_answer = post.pk == thread.answer_id
                post.user_can_edit = post.can_edit(user)
                post.user_can_delete = post.can_delete(user)
                post.user_can_vote = post.can_vote(user)
                post.user_can_flag = post.can_flag(user)
                post.user_can_mark_answer = thread.can_mark_as_answer(user, post)
                if post.is_opening:
                    continue
                top = post
                while top.parent_id in by_id and not by_id[top.parent_id].is_opening:
                    top = by_id[top.parent_id]
                if top is post:
                    groups[post.pk] = (post, [])
                elif top.pk in groups:
                    groups[top.pk][1].append(post)
            ordered = sorted(
                groups.values(),
                key=lambda group: (
                    not (group[0].is_answer or any(post.is_answer for post in group[1]))
                ),
            )
            thread.reply_groups = ordered

    @transaction.atomic
    def add_reply(self, *, author, parent: Post, body: str) -> Post:
        """A reply to `parent` (a post of this thread); notifies the people it answers."""
        assert parent.thread_id == self.pk
        reply = Post.objects.create(thread=self, author=author, parent=parent, body=body)
        Thread.objects.filter(pk=self.pk).update(last_activity_at=reply.created_at)
        recipients = {self.author_id, parent.author_id} - {author.pk, None}
        Notification.objects.bulk_create(
            Notification(recipient_id=recipient, post=reply, kind=Notification.Kind.REPLY)
            for recipient in sorted(recipients)
        )
        if settings.DISCUSSION_EMAIL_NOTIFICATIONS and recipients:
            transaction.on_commit(lambda: Notification.send_emails(reply, recipients))
        return reply

    @transaction.atomic
    def toggle_answer(self, post: Post, *, by) -> bool:
        """Mark `post` as this thread's answer, or unmark it if it is. True when marked."""
        assert post.thread_id == self.pk and post.parent_id is not None
        if self.answer_id == post.pk:
            self.answer = None
        else:
            self.answer = post
            if post.author_id and post.author_id != by.pk:
                Notification.objects.create(
                    recipient_id=post.author_id, post=post, kind=Notification.Kind.ANSWER
                )
        self.save(update_fields=["answer"])
        if by.pk != self.author_id:
            ModerationAction.objects.create(
                actor=by,
                action=ModerationAction.Action.MARK_ANSWER
                if self.answer_id
                else ModerationAction.Action.UNMARK_ANSWER,
                thread=self,
                post=post,
            )
        return self.answer_id is not None

    @transaction.atomic
    def moderate(self, action: str, *, by, note: str = "") -> None:
        """Lock, unlock, pin or unpin, recorded as a ModerationAction."""
        actions = ModerationAction.Action
        if action == actions.PIN:
            Thread.objects.filter(lesson_id=self.lesson_id, is_pinned=True).exclude(
                pk=self.pk
            ).update(is_pinned=False)
        field, value = {
            actions.LOCK: ("is_locked", True),
            actions.UNLOCK: ("is_locked", False),
            actions.PIN: ("is_pinned", True),
            actions.UNPIN: ("is_pinned", False),
        }[action]
        setattr(self, field, value)
        self.save(update_fields=[field])
        ModerationAction.objects.create(actor=by, action=action, thread=self, note=note)


class PostQuerySet(models.QuerySet):
    def visible(self) -> PostQuerySet:
        return self.filter(deleted_at__isnull=True, hidden_at__isnull=True)

    def for_display(self, user) -> PostQuerySet:
        """With authors, vote counts and whether `user` voted, in one query."""
        posts = (
            self.select_related("author", "parent__author")
            .defer("body", "parent__body", "parent__body_html")
            .annotate(vote_count=models.Count("votes"))
        )
        if user.is_authenticated:
            posts = posts.annotate(
                voted=models.Exists(Vote.objects.filter(post=models.OuterRef("pk"), user=user))
            )
        return posts.order_by("created_at", "id")

    def flagged(self) -> PostQuerySet:
        """Posts with open flags, most flagged first: the moderation queue."""
        open_flags = models.Q(flags__resolved_at__isnull=True)
        has_open_flags = Flag.objects.filter(post=models.OuterRef("pk"), resolved_at__isnull=True)
        return (
            self.filter(models.Exists(has_open_flags))
            .select_related("author", "thread__lesson__track")
            .annotate(
                open_flag_count=models.Count("flags", filter=open_flags),
                last_flagged_at=models.Max("flags__created_at", filter=open_flags),
            )
            .order_by("-open_flag_count", "-last_flagged_at")
        )

    def posting_limit_for(self, user) -> DiscussionLimit | None:
        """Why `user` may not post now (too many posts too fast), or None.

        Call inside a transaction: it locks the user's row so that one user's parallel posts
        are counted one after the other instead of all slipping under the limit together.
        """
        if user.is_staff:
            return None
        user_model = get_user_model()
        list(user_model.objects.select_for_update().filter(pk=user.pk).values_list("pk"))
        now = timezone.now()
        minute_ago = now - timedelta(minutes=1)
        day_ago = now - timedelta(days=1)
        is_new = user.date_joined > now - timedelta(hours=settings.DISCUSSION_NEW_ACCOUNT_HOURS)
        recent = self.filter(author=user, created_at__gte=day_ago).aggregate(
            last_minute=models.Count("id", filter=models.Q(created_at__gte=minute_ago)),
            first_in_minute=models.Min("created_at", filter=models.Q(created_at__gte=minute_ago)),
            last_day=models.Count("id"),
            first_in_day=models.Min("created_at"),
        )
        per_minute = (
            settings.DISCUSSION_NEW_ACCOUNT_POSTS_PER_MINUTE
            if is_new
            else settings.DISCUSSION_POSTS_PER_MINUTE
        )
        if is_new and recent["last_day"] >= settings.DISCUSSION_NEW_ACCOUNT_POSTS_PER_DAY:
            wait = recent["first_in_day"] + timedelta(days=1) - now
            account_age_wait = (
                user.date_joined + timedelta(hours=settings.DISCUSSION_NEW_ACCOUNT_HOURS) - now
            )
            return DiscussionLimit(
                f"New accounts can post {settings.DISCUSSION_NEW_ACCOUNT_POSTS_PER_DAY} times "
                "in their first day, and you have reached that. Thanks for joining in — "
                "please come back a little later.",
                max(1, int(min(wait, account_age_wait).total_seconds()) + 1),
            )
        if recent["last_minute"] >= per_minute:
            wait = recent["first_in_minute"] + timedelta(minutes=1) - now
            seconds = max(1, int(wait.total_seconds()) + 1)
            return DiscussionLimit(
                f"You are posting faster than {per_minute} posts a minute. "
                f"Please wait {seconds} seconds and try again; your text is still here.",
                seconds,
            )
        return None

    def is_duplicate(self, *, author, body: str) -> bool:
        """True if `author` posted the same text (ignoring spacing) recently."""
        since = timezone.now() - timedelta(seconds=settings.DISCUSSION_DUPLICATE_WINDOW_SECONDS)
        wanted = normalise_text(body)
        recent = self.filter(author=author, created_at__gte=since, deleted_at__isnull=True)
        return any(normalise_text(text) == wanted for text in recent.values_list("body", flat=True))


def normalise_text(text: str) -> str:
    return " ".join(text.split()).casefold()


class Post(models.Model):
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # The post this one answers; None for the thread's opening post.
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies"
    )
    body = models.TextField()  # Markdown, as written
    body_html = models.TextField(editable=False)  # rendered on save, never per request
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    hidden_at = models.DateTimeField(null=True, blank=True)

    objects = PostQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["thread", "created_at"], name="post_thread_created_idx"),
            models.Index(fields=["author", "-created_at"], name="post_author_recent_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["thread"],
                condition=models.Q(parent__isnull=True),
                name="post_one_opening_per_thread",
            )
        ]

    def __str__(self) -> str:
        return f"post {self.pk} in {self.thread_id}"

    def save(self, *args, **kwargs) -> None:
        if self.deleted_at is None:
            runnable = self.thread.lesson.mode == Lesson.Mode.SQL_SANDBOX
            self.body_html = render_post(self.body, runnable_sql=runnable)
        if kwargs.get("update_fields") and "body" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "body_html"}
        super().save(*args, **kwargs)

    @property
    def is_opening(self) -> bool:
        return self.parent_id is None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None

    def can_edit(self, user) -> bool:
        """Authors edit their own posts (not in a locked thread); staff edit any post."""
        if not user.is_authenticated or self.is_deleted:
            return False
        if user.is_staff:
            return True
        return user.pk == self.author_id and not self.is_hidden and not self.thread.is_locked

    def can_delete(self, user) -> bool:
        return self.can_edit(user)

    def can_vote(self, user) -> bool:
        return (
            user.is_authenticated
            and user.pk != self.author_id
            and not self.is_deleted
            and not self.is_hidden
        )

    def can_flag(self, user) -> bool:
        return self.can_vote(user)

    @transaction.atomic
    def edit(self, *, body: str, by, title: str | None = None) -> None:
        self.body = body
        self.edited_at = timezone.now()
        self.save(update_fields=["body", "edited_at"])
        if title is not None and self.is_opening and title != self.thread.title:
            self.thread.title = title
            self.thread.save(update_fields=["title"])
        if by.pk != self.author_id:
            ModerationAction.objects.create(
                actor=by, action=ModerationAction.Action.EDIT, thread=self.thread, post=self
            )

    @transaction.atomic
    def soft_delete(self, *, by) -> None:
        """Remove the text but keep the post as a "deleted" placeholder, so replies still read."""
        self.body = ""
        self.body_html = ""
        self.deleted_at = timezone.now()
        self.save(update_fields=["body", "body_html", "deleted_at"])
        Thread.objects.filter(pk=self.thread_id, answer=self).update(answer=None)
        if by.pk != self.author_id:
            ModerationAction.objects.create(
                actor=by, action=ModerationAction.Action.DELETE, thread=self.thread, post=self
            )

    def toggle_vote(self, user) -> bool:
        """Upvote, or take the upvote back. True when the user now has a vote on the post."""
        deleted, _ = Vote.objects.filter(post=self, user=user).delete()
        if deleted:
            return False
        # A double click racing itself ends with one vote, not an error.
        Vote.objects.get_or_create(post=self, user=user)
        return True

    def flag(self, *, reporter, reason: str, note: str = "") -> Flag:
        """One open flag per reporter and post; flagging again updates the reason."""
        flag, _ = Flag.objects.update_or_create(
            post=self,
            reporter=reporter,
            resolved_at=None,
            defaults={"reason": reason, "note": note},
        )
        return flag

    @transaction.atomic
    def moderate(self, action: str, *, by, note: str = "") -> None:
        """Hide, restore or dismiss the flags on this post; resolves open flags either way."""
        actions = ModerationAction.Action
        now = timezone.now()
        if action == actions.HIDE:
            self.hidden_at = now
            Thread.objects.filter(pk=self.thread_id, answer=self).update(answer=None)
        elif action == actions.RESTORE:
            self.hidden_at = None
        elif action != actions.DISMISS_FLAGS:
            raise ValueError(f"not a post action: {action}")
        self.save(update_fields=["hidden_at"])
        self.flags.filter(resolved_at__isnull=True).update(resolved_at=now, resolved_by=by)
        ModerationAction.objects.create(
            actor=by, action=action, thread_id=self.thread_id, post=self, note=note
        )


class Vote(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "user"], name="vote_once_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id} ▲ {self.post_id}"


class Flag(models.Model):
    class Reason(models.TextChoices):
        SPAM = "spam", "Spam or advertising"
        ABUSE = "abuse", "Rude, abusive or harassing"
        OFF_TOPIC = "off_topic", "Off topic"
        WRONG = "wrong", "Dangerous or misleading advice"
        OTHER = "other", "Something else"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="flags")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["post", "reporter"],
                condition=models.Q(resolved_at__isnull=True),
                name="flag_one_open_per_reporter",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} on post {self.post_id}"


class ModerationAction(models.Model):
    """Who did what to which post or thread, and when. Written by every moderating change."""

    class Action(models.TextChoices):
        HIDE = "hide", "Hid post"
        RESTORE = "restore", "Restored post"
        DISMISS_FLAGS = "dismiss_flags", "Dismissed flags"
        EDIT = "edit", "Edited someone else's post"
        DELETE = "delete", "Deleted someone else's post"
        LOCK = "lock", "Locked thread"
        UNLOCK = "unlock", "Unlocked thread"
        PIN = "pin", "Pinned thread"
        UNPIN = "unpin", "Unpinned thread"
        MARK_ANSWER = "mark_answer", "Marked an answer"
        UNMARK_ANSWER = "unmark_answer", "Unmarked an answer"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    thread = models.ForeignKey(
        Thread, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    post = models.ForeignKey(
        Post, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor_id} at {self.created_at:%Y-%m-%d %H:%M}"


class NotificationQuerySet(models.QuerySet):
    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)

    def mark_read(self) -> int:
        return self.unread().update(read_at=timezone.now())


class Notification(models.Model):
    """Something for `recipient` to see on their next visit: a reply, or an accepted answer."""

    class Kind(models.TextChoices):
        REPLY = "reply", "replied"
        ANSWER = "answer", "marked your reply as the answer"

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="discussion_notifications"
    )
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.REPLY)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_unread_idx")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}"

    @staticmethod
    def send_emails(post: Post, recipient_ids: set[int]) -> None:
        """Optional email (DISCUSSION_EMAIL_NOTIFICATIONS); the site badge works without it."""
        from django.core.mail import send_mail

        author = post.author.get_username() if post.author else "Someone"
        lesson = post.thread.lesson
        for user in get_user_model().objects.filter(pk__in=recipient_ids).exclude(email=""):
            send_mail(
                f"{author} replied in “{post.thread.title}”",
                f"{author} replied to you in the discussion of “{lesson.title}”.\n\n"
                f"{post.body}\n\nSee it on Querylab: {settings.SITE_URL}"
                f"{reverse('lessons:thread', args=[post.thread_id])}#post-{post.pk}",
                None,
                [user.email],
                fail_silently=True,
            )


# The anonymous page cache (lessons/page_cache.py) serves whole lesson pages, discussion included;
# it compares this stamp, kept in the shared database cache, so a post shows up for signed-out
# readers within LESSON_PAGE_CACHE_SECONDS on every server process.
DISCUSSION_STAMP_KEY = "discussion:stamp"


def discussion_stamp() -> int:
    """Changes whenever something a discussion shows changes."""
    return cache.get(DISCUSSION_STAMP_KEY, 0)


def _discussion_changed(**kwargs) -> None:
    cache.set(DISCUSSION_STAMP_KEY, time.time_ns(), None)


for _model in (Thread, Post, Vote):
    post_save.connect(_discussion_changed, sender=_model, dispatch_uid=f"stamp-{_model.__name__}")
    post_delete.connect(
        _discussion_changed, sender=_model, dispatch_uid=f"stamp-del-{_model.__name__}"
    )


# -- Learning loop ----------------------------------------------------------------------------
#
# What a learner did: lessons opened and completed, quiz attempts, self-check marks, flashcard
# reviews and confidence. Everything hangs on a Learner, which is either a user or a signed-out
# visitor whose Learner id is kept in their session. On log-in or sign-up the visitor's Learner
# is merged into the user's (Learner.absorb) and deleted.
#
# Completion rule: a lesson is completed when the learner marks it done. Passing the quiz does
# not complete it: retries are unlimited, so "every question right" only says the learner kept
# clicking, and lessons without a quiz could never complete. Quiz results feed "lessons to
# review" instead, and the page suggests marking the lesson done once every question is right.

LEARNER_SESSION_KEY = "learner_id"
REVIEW_INTERVALS_DAYS = (1, 3, 7, 21)  # "review again" → tomorrow, then 3, 7 and 21 days


class Confidence(models.IntegerChoices):
    NOT_YET = 1, "Not yet"
    WITH_NOTES = 2, "Only with my notes"
    MOSTLY = 3, "Mostly"
    EASILY = 4, "Yes, easily"

    @classmethod
    def is_low(cls, value: int | None) -> bool:
        return value is not None and value <= cls.WITH_NOTES


class LearnerQuerySet(models.QuerySet):
    def for_user(self, user) -> Learner:
        """The user's Learner, created on first use (safe against concurrent first requests)."""
        learner, _ = self.get_or_create(user=user)
        return learner

    def for_request(self, request, *, create: bool) -> Learner | None:
        """The Learner behind this request: the signed-in user's, else the visitor's whose id
        the session holds. With `create`, a visitor gets one (and the session remembers it);
        without, a visitor who has done nothing yet gets None."""
        user = request.user
        learner_id = request.session.get(LEARNER_SESSION_KEY)
        owner = {"user": user} if user.is_authenticated else {"user__isnull": True}
        learner = self.filter(pk=learner_id, **owner).first() if learner_id else None
        if learner is None and user.is_authenticated:
            learner = self.for_user(user)
        elif learner is None and create:
            learner = self.create()
        if learner is not None and learner.pk != learner_id:
            request.session[LEARNER_SESSION_KEY] = learner.pk
        return learner


class Learner(models.Model):
    """Whoever is learning: a user, or (user is null) a signed-out visitor's session."""

    user = models.OneToOneField(
        "auth.User", null=True, blank=True, on_delete=models.CASCADE, related_name="learner"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LearnerQuerySet.as_manager()

    def __str__(self) -> str:
        return self.user.get_username() if self.user_id else f"visitor {self.pk}"

    def absorb(self, visitor_id: int) -> bool:
        """Move a signed-out visitor's learning into this learner, in one transaction, in the
        learner's favour: completed beats started, the latest confidence, self-check mark and
        flashcard review win, every quiz attempt is kept. The visitor is deleted. Returns
        whether there was anything to move."""
        with transaction.atomic():
            # Lock both rows, lowest id first, so two log-ins at once cannot interleave.
            locked = list(
                Learner.objects.select_for_update()
                .filter(models.Q(pk=self.pk) | models.Q(pk=visitor_id, user__isnull=True))
                .order_by("pk")
            )
            visitor = next((row for row in locked if row.pk != self.pk), None)
            if visitor is None:
                return False
            moved = False
            for theirs in LessonProgress.objects.filter(learner=visitor):
                mine = LessonProgress.objects.filter(learner=self, lesson_id=theirs.lesson_id)
                mine = mine.select_for_update().first()
                if mine is None:
                    theirs.learner = self
                    theirs.save(update_fields=["learner"])
                else:
                    mine.combine(theirs)
                moved = True
            moved |= QuizAttempt.objects.filter(learner=visitor).update(learner=self) > 0
            for model, part in ((SelfCheckMark, "item"), (FlashcardReview, "card")):
                for theirs in model.objects.filter(learner=visitor):
                    mine = model.objects.filter(
                        learner=self, **{part: getattr(theirs, part + "_id")}
                    )
                    mine = mine.select_for_update().first()
                    if mine is None or mine.updated_at < theirs.updated_at:
                        if mine is not None:
                            mine.delete()
                        theirs.learner = self
                        theirs.save(update_fields=["learner"])
                    moved = True
            visitor.delete()
            return moved

    def continue_lesson(self) -> Lesson | None:
        """Where to pick up: the lesson opened last, or the one after it once it is done."""
        last = (
            LessonProgress.objects.filter(learner=self, lesson__in=Lesson.objects.published())
            .select_related("lesson__track")
            .order_by("-last_seen_at")
            .first()
        )
        if last is None:
            return None
        if last.is_completed:
            following = (
                Lesson.objects.published()
                .filter(track=last.lesson.track_id, step__gt=last.lesson.step)
                .exclude(pk__in=self.progress.completed().values("lesson_id"))
                .select_related("track")
                .order_by("step")
                .first()
            )
            return following or last.lesson
        return last.lesson

    @staticmethod
    def empty_export() -> dict:
        """export()'s shape for a visitor who has done nothing yet."""
        return {
            "format": "querylab-progress/1",
            "exported_at": timezone.now().isoformat(),
            "account": None,
            **{part: [] for part in ("lessons", "quiz_attempts", "self_checks", "flashcards")},
        }

    def export(self) -> dict:
        """Everything this learner did, JSON-ready, keyed by the lessons' stable names."""
        progress = self.progress.select_related("lesson__track").order_by("started_at")
        attempts = (
            self.quiz_attempts.select_related("question__lesson__track")
            .prefetch_related("choices")
            .order_by("created_at")
        )
        checks = self.self_checks.select_related("item__lesson__track")
        cards = self.card_reviews.select_related("card__lesson__track")
        return {
            "format": "querylab-progress/1",
            "exported_at": timezone.now().isoformat(),
            "account": self.user.get_username() if self.user_id else None,
            "lessons": [
                {
                    "lesson": row.lesson.ref,
                    "title": row.lesson.title,
                    "status": row.status,
                    "started_at": row.started_at.isoformat(),
                    "last_seen_at": row.last_seen_at.isoformat(),
                    "completed_at": row.completed_at and row.completed_at.isoformat(),
                    "confidence": row.confidence and row.get_confidence_display(),
                    "confidence_at": row.confidence_at and row.confidence_at.isoformat(),
                }
                for row in progress
            ],
            "quiz_attempts": [
                {
                    "lesson": attempt.question.lesson.ref,
                    "question": attempt.question.key,
                    "choices": sorted(choice.key for choice in attempt.choices.all()),
                    "correct": attempt.is_correct,
                    "at": attempt.created_at.isoformat(),
                }
                for attempt in attempts
            ],
            "self_checks": [
                {
                    "lesson": mark.item.lesson.ref,
                    "item": mark.item.key,
                    "got_it": mark.got_it,
                    "at": mark.updated_at.isoformat(),
                }
                for mark in checks
            ],
            "flashcards": [
                {
                    "lesson": review.card.lesson.ref,
                    "card": review.card.key,
                    "knew_it": review.knew_it,
                    "due_on": review.due_on and review.due_on.isoformat(),
                    "at": review.updated_at.isoformat(),
                }
                for review in cards
            ],
        }

    def review_lessons(self) -> list[Lesson]:
        """Published lessons worth another look: low confidence, or a quiz question missed on
        the first try. Each lesson carries `missed` (question count) and `confidence_label`."""
        first_tries = (
            QuizAttempt.objects.filter(learner=self)
            .order_by("question_id", "created_at")
            .distinct("question_id")
            .values("question__lesson_id", "is_correct")
        )
        missed: dict[int, int] = {}
        for row in first_tries:
            if not row["is_correct"]:
                lesson_id = row["question__lesson_id"]
                missed[lesson_id] = missed.get(lesson_id, 0) + 1
        low = dict(
            LessonProgress.objects.filter(
                learner=self, confidence__lte=Confidence.WITH_NOTES
            ).values_list("lesson_id", "confidence")
        )
        lessons = list(
            Lesson.objects.published()
            .filter(pk__in=set(missed) | set(low))
            .select_related("track")
            .order_by("track__order", "step")
        )
        for lesson in lessons:
            lesson.missed = missed.get(lesson.pk, 0)
            level = low.get(lesson.pk)
            lesson.confidence_label = Confidence(level).label if level else ""
        return lessons


class LessonProgressQuerySet(models.QuerySet):
    def start(self, learner: Learner, lesson: Lesson) -> LessonProgress:
        """Record that the learner opened the lesson now and return their row for it: one
        INSERT … ON CONFLICT … RETURNING, so it is one query and safe when two tabs open
        lessons at once. started_at and any completion are kept."""
        now = timezone.now()
        sql = (
            f"INSERT INTO {LessonProgress._meta.db_table}"
            " (learner_id, lesson_id, status, started_at, last_seen_at)"
            " VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (learner_id, lesson_id)"
            " DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at RETURNING *"
        )
        params = [learner.pk, lesson.pk, LessonProgress.Status.STARTED, now, now]
        return next(iter(LessonProgress.objects.raw(sql, params)))

    def exercise_passed(self, request, lesson: Lesson, *, all_passed: bool) -> LessonProgress:
        """A graded exercise of `lesson` passed: the lesson is started, and completed once every
        one of its exercises has passed. Unlike a quiz (unlimited retries), a passing query is
        evidence the learner can do what the lesson teaches, so it may complete the lesson."""
        learner = Learner.objects.for_request(request, create=True)
        progress = self.start(learner, lesson)
        if all_passed:
            progress.mark_complete()
        return progress

    def open_lesson(self, request, lesson: Lesson, steps: list[Lesson]) -> list[LessonProgress]:
        """The lesson page's one query: find the request's learner (the user's, else the
        session's visitor), record that they opened `lesson` (as start() does) and return their
        rows for every lesson in `steps`. Empty when the request has no learner yet."""
        learners = Learner._meta.db_table
        if request.user.is_authenticated:
            owner, owner_params = "user_id = %s", [request.user.pk]
        else:
            owner, owner_params = (
                "id = %s AND user_id IS NULL",
                [request.session.get(LEARNER_SESSION_KEY)],
            )
        if owner_params[0] is None:
            return []
        now = timezone.now()
        table = LessonProgress._meta.db_table
        sql = (
            f"WITH learner AS (SELECT id FROM {learners} WHERE {owner}),"
            f" opened AS (INSERT INTO {table}"
            "  (learner_id, lesson_id, status, started_at, last_seen_at)"
            "  SELECT id, %s, %s, %s, %s FROM learner"
            "  ON CONFLICT (learner_id, lesson_id)"
            "  DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at RETURNING *)"
            " SELECT * FROM opened UNION ALL"
            f" SELECT p.* FROM {table} p JOIN learner ON p.learner_id = learner.id"
            " WHERE p.lesson_id = ANY(%s) AND p.lesson_id <> %s"
        )
        params = [*owner_params, lesson.pk, LessonProgress.Status.STARTED, now, now]
        params += [[step.pk for step in steps], lesson.pk]
        return list(LessonProgress.objects.raw(sql, params))

    def completed(self) -> LessonProgressQuerySet:
        return self.filter(status=LessonProgress.Status.COMPLETED)


class LessonProgress(models.Model):
    class Status(models.TextChoices):
        STARTED = "started", "Started"
        COMPLETED = "completed", "Completed"

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="progress")
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STARTED)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    confidence = models.PositiveSmallIntegerField(choices=Confidence.choices, null=True)
    confidence_at = models.DateTimeField(null=True, blank=True)

    objects = LessonProgressQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["learner", "lesson"], name="progress_unique_lesson"),
        ]
        indexes = [models.Index(fields=["learner", "-last_seen_at"], name="progress_recent")]

    def __str__(self) -> str:
        return f"{self.learner} · {self.lesson_id} · {self.status}"

    @property
    def is_completed(self) -> bool:
        return self.status == self.Status.COMPLETED

    def mark_complete(self) -> None:
        # A conditional UPDATE: concurrent calls all succeed and the first completion time stays.
        now = timezone.now()
        LessonProgress.objects.filter(pk=self.pk, completed_at__isnull=True).update(
            status=self.Status.COMPLETED, completed_at=now
        )
        self.status, self.completed_at = self.Status.COMPLETED, self.completed_at or now

    def mark_incomplete(self) -> None:
        LessonProgress.objects.filter(pk=self.pk).update(
            status=self.Status.STARTED, completed_at=None
        )
        self.status, self.completed_at = self.Status.STARTED, None

    def set_confidence(self, level: int) -> None:
        self.confidence, self.confidence_at = Confidence(level), timezone.now()
        LessonProgress.objects.filter(pk=self.pk).update(
            confidence=self.confidence, confidence_at=self.confidence_at
        )

    def combine(self, other: LessonProgress) -> None:
        """Fold another learner's row for the same lesson into this one (see Learner.absorb)."""
        self.started_at = min(self.started_at, other.started_at)
        self.last_seen_at = max(self.last_seen_at, other.last_seen_at)
        if other.is_completed:
            self.status = self.Status.COMPLETED
            self.completed_at = min(filter(None, [self.completed_at, other.completed_at]))
        if other.confidence_at and (
            not self.confidence_at or other.confidence_at > self.confidence_at
        ):
            self.confidence, self.confidence_at = other.confidence, other.confidence_at
        self.save()


class QuizAttemptQuerySet(models.QuerySet):
    def record(self, learner: Learner, question: QuizQuestion, choices: list[QuizChoice]):
        """Store one answer to `question` (choices already checked to belong to it)."""
        chosen = {choice.pk for choice in choices}
        correct = {choice.pk for choice in question.choices.all() if choice.is_correct}
        with transaction.atomic():
            attempt = self.create(learner=learner, question=question, is_correct=chosen == correct)
            attempt.choices.set(choices)
        return attempt

    def has_answered_every_question(self, learner: Learner, lesson: Lesson) -> bool:
        """Whether the learner has answered every active question of the lesson right at
        least once (the quiz suggests marking the lesson done then)."""
        questions = QuizQuestion.objects.active().filter(lesson=lesson)
        right = self.filter(learner=learner, question__in=questions, is_correct=True)
        return right.values("question").distinct().count() == questions.count()


class QuizAttempt(models.Model):
    """One answer to one quiz question. Every attempt is kept, right or wrong."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="quiz_attempts")
    question = models.ForeignKey(QuizQuestion, on_delete=models.CASCADE, related_name="attempts")
    choices = models.ManyToManyField(QuizChoice, related_name="+")
    is_correct = models.BooleanField()
    created_at = models.DateTimeField(default=timezone.now)

    objects = QuizAttemptQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["learner", "question", "created_at"], name="attempt_order")]

    def __str__(self) -> str:
        return f"{self.learner} · {self.question} · {'right' if self.is_correct else 'wrong'}"

    def outcomes(self, choices: list[QuizChoice]) -> list[dict]:
        """How to show each choice after this attempt: the chosen ones are judged right or
        wrong with their feedback. After a right answer the others' feedback is shown too (why
        they are wrong); after a wrong one it is not, so "Try again" still means something."""
        chosen = {choice.pk for choice in self.choices.all()}
        rows = []
        for choice in choices:
            picked = choice.pk in chosen
            rows.append(
                {
                    "choice": choice,
                    "chosen": picked,
                    "verdict": ("right" if choice.is_correct else "wrong") if picked else "",
                    "feedback_html": choice.feedback_html if picked or self.is_correct else "",
                }
            )
        return rows


class SelfCheckMark(models.Model):
    """The learner's own verdict on a self-check item: got it, or not yet."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="self_checks")
    item = models.ForeignKey(SelfCheckItem, on_delete=models.CASCADE, related_name="+")
    got_it = models.BooleanField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["learner", "item"], name="selfcheckmark_unique_item"),
        ]

    def __str__(self) -> str:
        return f"{self.learner} · {self.item} · {'got it' if self.got_it else 'not yet'}"

    @classmethod
    def mark(cls, learner: Learner, item: SelfCheckItem, got_it: bool) -> SelfCheckMark:
        mark, _ = cls.objects.update_or_create(
            learner=learner, item=item, defaults={"got_it": got_it, "updated_at": timezone.now()}
        )
        return mark


class FlashcardReviewQuerySet(models.QuerySet):
    def in_review(self) -> FlashcardReviewQuerySet:
        """Cards the learner asked to see again, due ones first."""
        return self.filter(due_on__isnull=False, card__is_active=True).order_by("due_on", "pk")


class FlashcardReview(models.Model):
    """Where a card stands in the learner's simple spaced schedule.

    "Review again" puts the card in review, due tomorrow. Each "knew it" on a card in review
    pushes it out along REVIEW_INTERVALS_DAYS (3, then 7, then 21 days); "knew it" after the
    21-day wait takes it out of review (due_on is null). "Knew it" on a card never in review
    only records the answer."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="card_reviews")
    card = models.ForeignKey(Flashcard, on_delete=models.CASCADE, related_name="+")
    knew_it = models.BooleanField()
    stage = models.PositiveSmallIntegerField(default=0)  # index into REVIEW_INTERVALS_DAYS
    due_on = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = FlashcardReviewQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["learner", "card"], name="flashcardreview_unique_card"),
        ]

    def __str__(self) -> str:
        return f"{self.learner} · {self.card} · due {self.due_on or 'never'}"

    @classmethod
    def answer(cls, learner: Learner, card: Flashcard, knew_it: bool) -> FlashcardReview:
        with transaction.atomic():
            review, _ = cls.objects.select_for_update().get_or_create(
                learner=learner, card=card, defaults={"knew_it": knew_it}
            )
            review.schedule(knew_it)
            review.save()
        return review

    def schedule(self, knew_it: bool) -> None:
        today = timezone.localdate()
        self.knew_it, self.updated_at = knew_it, timezone.now()
        if not knew_it:
            self.stage, self.due_on = 0, today + timedelta(days=REVIEW_INTERVALS_DAYS[0])
        elif self.due_on is not None and self.stage + 1 < len(REVIEW_INTERVALS_DAYS):
            self.stage += 1
            self.due_on = today + timedelta(days=REVIEW_INTERVALS_DAYS[self.stage])
        else:
            self.stage, self.due_on = 0, None

    @property
    def is_due(self) -> bool:
        return self.due_on is not None and self.due_on <= timezone.localdate()


@dataclass
class LessonPageState:
    """What the lesson page shows of one learner's progress (see lesson_page_state)."""

    progress: LessonProgress | None = None
    step: int = 0  # this lesson's position among the track's published lessons
    total: int = 0  # published lessons in the track
    completed_in_track: int = 0  # of those
    completed_ids: set[int] = field(default_factory=set)
    started_ids: set[int] = field(default_factory=set)
    quiz: dict[str, dict] = field(default_factory=dict)  # key → {"attempts", "correct"}
    self_checks: dict[str, bool] = field(default_factory=dict)  # key → got it
    cards: dict[str, dict] = field(default_factory=dict)  # key → {"knew_it", "due_on"}
    next_step: Lesson | None = None  # the track's first lesson not completed yet
    is_new: bool = False  # a visitor with nothing recorded yet: the page sends a beacon

    @property
    def percent(self) -> int:
        return round(100 * self.completed_in_track / self.total) if self.total else 0

    @property
    def confidence_levels(self) -> list[tuple[int, str]]:
        return Confidence.choices

    def as_json(self) -> dict:
        """The per-item state learning.js applies to the lesson's static quiz and cards."""
        return {"quiz": self.quiz, "selfChecks": self.self_checks, "cards": self.cards}


def lesson_page_state(request, lesson: Lesson, steps: list[Lesson]) -> LessonPageState:
    """The learner's progress for the lesson page, recording that they opened it: its header,
    the ticks in the track's step menu (`steps`, from Lesson.objects.outline) and the state of
    the lesson's quiz, self-check and cards. Two queries whatever the track's length.

    A visitor with no Learner yet gets the blank state and no writes: the same page as every
    new visitor (so the anonymous page cache can serve it, and crawlers create no rows). The
    page's beacon then records the visit (learning_views.opened)."""
    rows = LessonProgress.objects.open_lesson(request, lesson, steps)
    if rows:
        return _page_state(rows[0].learner_id, lesson, steps, rows)
    if not request.user.is_authenticated:
        return LessonPageState(total=len(steps), step=_step_of(lesson, steps), is_new=True)
    # A user without a Learner row yet: open_lesson found nothing, so there is nothing to read.
    learner = Learner.objects.for_request(request, create=True)
    return _page_state(None, lesson, steps, [LessonProgress.objects.start(learner, lesson)])


def _step_of(lesson: Lesson | None, steps: list[Lesson]) -> int:
    return next((n for n, step in enumerate(steps, 1) if lesson and step.pk == lesson.pk), 0)


def lesson_progress_state(
    learner: Learner | None, lesson: Lesson | None, steps: list[Lesson]
) -> LessonPageState:
    """As lesson_page_state, without recording a visit: for the header's htmx refresh, and
    for the track page (no `lesson`: only the track's progress, in one query)."""
    rows = []
    if learner is not None:
        rows = list(LessonProgress.objects.filter(learner=learner, lesson__in=steps))
    return _page_state(learner and lesson and learner.pk, lesson, steps, rows)


def _page_state(
    learner_id: int | None, lesson: Lesson, steps: list[Lesson], rows: list[LessonProgress]
) -> LessonPageState:
    state = LessonPageState(total=len(steps), step=_step_of(lesson, steps))
    for row in rows:
        if row.is_completed:
            state.completed_ids.add(row.lesson_id)
        else:
            state.started_ids.add(row.lesson_id)
        if lesson and row.lesson_id == lesson.pk:
            state.progress = row
    state.completed_in_track = len(state.completed_ids)
    state.next_step = next((step for step in steps if step.pk not in state.completed_ids), None)
    if learner_id is not None:
        _fill_part_states(state, learner_id, lesson)
    return state


def _fill_part_states(state: LessonPageState, learner_id: int, lesson: Lesson) -> None:
    # One UNION query for the three kinds of per-item state; oldest first so later rows win.
    none_date = Cast(models.Value(None), models.DateField())  # typed, or UNION sees text
    quiz = QuizAttempt.objects.filter(learner=learner_id, question__lesson=lesson).values_list(
        models.Value("quiz"), "question__key", "is_correct", none_date, "created_at"
    )
    checks = SelfCheckMark.objects.filter(learner=learner_id, item__lesson=lesson).values_list(
        models.Value("check"), "item__key", "got_it", none_date, "updated_at"
    )
    cards = FlashcardReview.objects.filter(learner=learner_id, card__lesson=lesson).values_list(
        models.Value("card"), "card__key", "knew_it", "due_on", "updated_at"
    )
    rows = sorted(quiz.union(checks, cards, all=True), key=lambda row: row[4])
    for kind, key, flag, due_on, _at in rows:
        if kind == "quiz":
            entry = state.quiz.setdefault(key, {"attempts": 0, "correct": False})
            entry["attempts"] += 1
            entry["correct"] = flag
        elif kind == "check":
            state.self_checks[key] = flag
        else:
            state.cards[key] = {"knew_it": flag, "due_on": due_on.isoformat() if due_on else None}


@dataclass
class TrackProgress:
    track: Track
    lessons: list[Lesson]

    @property
    def completed(self) -> int:
        return sum(lesson.status == LessonProgress.Status.COMPLETED for lesson in self.lessons)

    @property
    def percent(self) -> int:
        return round(100 * self.completed / len(self.lessons)) if self.lessons else 0


@dataclass
class ProgressOverview:
    tracks: list[TrackProgress]
    review: list[Lesson]
    cards_due: int
    cards_in_review: int


def progress_overview(learner: Learner | None) -> ProgressOverview:
    """Every published track with, per lesson, the learner's status, confidence and quiz score:
    `first_try_right` of the `answered` questions right on the first try, `not_tried` left."""
    lessons = (
        Lesson.objects.published()
        .select_related("track")
        .annotate(
            question_count=models.Count(
                "quiz_questions", filter=models.Q(quiz_questions__is_active=True)
            )
        )
        .order_by("track__order", "track__title", "step")
    )
    progress, first_tries = {}, {}
    if learner is not None:
        progress = {row.lesson_id: row for row in LessonProgress.objects.filter(learner=learner)}
        for lesson_id, is_correct in (
            QuizAttempt.objects.filter(learner=learner, question__is_active=True)
            .order_by("question_id", "created_at")
            .distinct("question_id")
            .values_list("question__lesson_id", "is_correct")
        ):
            first_tries.setdefault(lesson_id, []).append(is_correct)
    tracks: dict[int, TrackProgress] = {}
    for lesson in lessons:
        row = progress.get(lesson.pk)
        lesson.status = row.status if row else ""
        lesson.confidence = row.get_confidence_display() if row and row.confidence else ""
        lesson.low_confidence = bool(row) and Confidence.is_low(row.confidence)
        tries = first_tries.get(lesson.pk, [])
        lesson.answered, lesson.first_try_right = len(tries), sum(tries)
        lesson.not_tried = lesson.question_count - lesson.answered
        tracks.setdefault(lesson.track_id, TrackProgress(lesson.track, [])).lessons.append(lesson)
    cards = FlashcardReview.objects.filter(learner=learner).in_review() if learner else None
    return ProgressOverview(
        tracks=list(tracks.values()),
        review=learner.review_lessons() if learner else [],
        cards_due=cards.filter(due_on__lte=timezone.localdate()).count() if cards else 0,
        cards_in_review=cards.count() if cards else 0,
    )
