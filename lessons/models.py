"""Tracks and lessons, as published from content/ by `manage.py content sync`.

A lesson is identified by its track and slug (the file name without its `NN-` step prefix), so
learner data attached to it survives edits and renumbering.
"""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVectorField
from django.db import models
from django.db.models import F

SEARCH_CONFIG = "english"


class TrackQuerySet(models.QuerySet):
    def published(self) -> TrackQuerySet:
        return self.filter(is_published=True)

    def with_lesson_counts(self) -> TrackQuerySet:
        published = models.Q(lessons__is_published=True)
        return self.annotate(
            lesson_count=models.Count("lessons", filter=published),
            minutes=models.Sum("lessons__reading_minutes", filter=published),
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


class LessonQuerySet(models.QuerySet):
    def published(self) -> LessonQuerySet:
        return self.filter(is_published=True, track__is_published=True)

    def search(self, text: str) -> LessonQuerySet:
        """Published lessons matching `text` (web-search syntax), best first, with `rank`."""
        query = SearchQuery(text, config=SEARCH_CONFIG, search_type="websearch")
        return (
            self.published()
            .filter(search_vector=query)
            .annotate(rank=SearchRank(F("search_vector"), query))
            .order_by("-rank", "track__order", "step")
        )

    def by_ref(self, ref: str) -> Lesson:
        """The published lesson named by "<track>/<slug>"; raises Lesson.DoesNotExist."""
        track_slug, _, slug = ref.partition("/")
        return self.published().select_related("track").get(track__slug=track_slug, slug=slug)


class Lesson(models.Model):
    class Mode(models.TextChoices):
        READING = "reading", "Reading"
        SQL_SANDBOX = "sql_sandbox", "SQL sandbox"

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

    @property
    def ref(self) -> str:
        """The "<track>/<slug>" name the sandbox API uses."""
        return f"{self.track.slug}/{self.slug}"


# -- The structured parts of a lesson -------------------------------------------------------
#
# Each item has a `key`: the `id` its author gave it in the Markdown source. Sync updates rows in
# place by (lesson, key) and only marks items that left the source as inactive, so learner data
# (quiz attempts, confidence, discussion threads) can point at these rows by foreign key and
# survive edits, renumbering and re-syncs. Correct answers, feedback and explanations live in
# their own columns and are never part of Lesson.body_html.


class LessonPartQuerySet(models.QuerySet):
    def active(self) -> LessonPartQuerySet:
        return self.filter(is_active=True)


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

    class Meta(LessonPart.Meta):
        constraints = [
            models.UniqueConstraint(fields=["lesson", "key"], name="exercise_unique_key")
        ]
