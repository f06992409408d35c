"""Read models for pages: what the lesson, track and progress pages show of one learner."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import models
from django.db.models.functions import Cast
from django.utils import timezone

if TYPE_CHECKING:
    pass
from lessons.models.catalog import Lesson, Track
from lessons.models.learning import (
    Confidence,
    FlashcardReview,
    Learner,
    LessonProgress,
    QuizAttempt,
    SelfCheckMark,
)
from lessons.models.reviews import ExerciseOutcome, ReviewEvent, ReviewItem, end_of_today


@dataclass
class LessonPageState:
    """What the lesson page shows of one learner's progress (see open_lesson_page)."""

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


def open_lesson_page(
    user, visitor_id: int | None, lesson: Lesson, steps: list[Lesson]
) -> LessonPageState:
    """Record that the learner opened `lesson` (a write, on the page's GET: opening a lesson
    starts it) and return what the lesson page shows of their progress: its header, the ticks
    in the track's step menu (`steps`, from Lesson.objects.outline) and the state of the
    lesson's quiz, self-check and cards. Two queries whatever the track's length.

    `user` is the signed-in user or AnonymousUser; `visitor_id` the signed-out visitor's
    Learner id from their session. A visitor with no Learner yet gets the blank state and no
    writes: the same page as every new visitor (so the anonymous page cache can serve it, and
    crawlers create no rows). The page's beacon then records the visit (learning_views.opened)."""
    user_id = user.pk if user.is_authenticated else None
    rows = LessonProgress.objects.open_lesson(user_id, visitor_id, lesson, steps)
    if rows:
        return page_state(rows[0].learner_id, lesson, steps, rows)
    if user_id is None:
        return LessonPageState(total=len(steps), step=_step_of(lesson, steps), is_new=True)
    # A user without a Learner row yet: open_lesson found nothing, so there is nothing to read.
    learner = Learner.objects.for_user(user)
    return page_state(None, lesson, steps, [LessonProgress.objects.start(learner, lesson)])


def _step_of(lesson: Lesson | None, steps: list[Lesson]) -> int:
    return next((n for n, step in enumerate(steps, 1) if lesson and step.pk == lesson.pk), 0)


def lesson_progress_state(
    learner: Learner | None, lesson: Lesson | None, steps: list[Lesson]
) -> LessonPageState:
    """As open_lesson_page, without recording a visit: for the header's htmx refresh, and
    for the track page (no `lesson`: only the track's progress, in one query)."""
    rows = []
    if learner is not None:
        rows = list(LessonProgress.objects.filter(learner=learner, lesson__in=steps))
    return page_state(learner and lesson and learner.pk, lesson, steps, rows)


def page_state(
    learner_id: int | None,
    lesson: Lesson,
    steps: list[Lesson],
    rows: list[LessonProgress],
    fill_parts: bool = True,
) -> LessonPageState:
    """The state from the learner's progress `rows` for `steps`; with `fill_parts`, their
    quiz, self-check and card state on `lesson` too (one query)."""
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
    if learner_id is not None and fill_parts:
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
    progress, first_tries, exercises = {}, {}, {}
    if learner is not None:
        for outcome in ExerciseOutcome.objects.filter(
            learner=learner, passed_at__isnull=False, exercise__is_active=True
        ).values("exercise__lesson_id", "with_solution"):
            counts = exercises.setdefault(outcome["exercise__lesson_id"], [0, 0])
            counts[0] += 1
            counts[1] += outcome["with_solution"]
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
        lesson.exercises_passed, lesson.passed_with_solution = exercises.get(lesson.pk, (0, 0))
        tracks.setdefault(lesson.track_id, TrackProgress(lesson.track, [])).lessons.append(lesson)
    cards = {"due": 0, "total": 0}
    if learner is not None:
        # One aggregate whatever the pile's size (the page's query count is fixed).
        cards = (
            ReviewItem.objects.filter(learner=learner)
            .visible()
            .aggregate(
                due=models.Count("pk", filter=models.Q(due__lt=end_of_today())),
                total=models.Count("pk"),
            )
        )
    return ProgressOverview(
        tracks=list(tracks.values()),
        review=learner.review_lessons() if learner else [],
        cards_due=cards["due"],
        cards_in_review=cards["total"],
    )


SERIES = (
    ("lessons", "Lessons done"),
    ("exercises", "Exercises passed"),
    ("reviews", "Reviews kept"),
)


@dataclass
class WeeklySummary:
    """The learner's last `weeks` weeks (Monday to Sunday, this one last): lessons done,
    exercises passed and reviews kept (graded hard, good or easy), with the geometry of a small
    grouped bar chart that the progress page draws as inline SVG (attributes only: the site's
    CSP allows no style attributes)."""

    weeks: list[dict]  # {"start": date, "lessons": n, "exercises": n, "reviews": n}
    width: int = 560
    height: int = 150
    plot_height: int = 110

    @property
    def top(self) -> int:
        return max([1] + [week[key] for week in self.weeks for key, _ in SERIES])

    @property
    def total(self) -> dict:
        return {key: sum(week[key] for week in self.weeks) for key, _ in SERIES}

    @property
    def bars(self) -> list[dict]:
        group = self.width // len(self.weeks)
        bars = []
        for n, week in enumerate(self.weeks):
            for s, (key, label) in enumerate(SERIES):
                height = round(self.plot_height * week[key] / self.top)
                bars.append(
                    {
                        "x": n * group + 8 + s * 18,
                        "y": self.plot_height - height,
                        "height": height,
                        "series": key,
                        "title": f"{label}, week of {week['start']:%-d %b}: {week[key]}",
                    }
                )
        return bars

    @property
    def labels(self) -> list[dict]:
        group = self.width // len(self.weeks)
        return [
            {"x": n * group + 8, "y": self.plot_height + 18, "text": f"{week['start']:%-d %b}"}
            for n, week in enumerate(self.weeks)
        ]


def weekly_summary(learner: Learner | None, weeks: int = 8) -> WeeklySummary:
    """What the learner did each of the last `weeks` weeks (three queries)."""
    today = timezone.localdate()
    first = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    starts = [first + timedelta(days=7 * n) for n in range(weeks)]
    rows = [{"start": start, **{key: 0 for key, _ in SERIES}} for start in starts]
    if learner is None:
        return WeeklySummary(rows)
    since = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    moments = {
        "lessons": LessonProgress.objects.filter(
            learner=learner, completed_at__gte=since
        ).values_list("completed_at", flat=True),
        "exercises": ExerciseOutcome.objects.filter(
            learner=learner, passed_at__gte=since
        ).values_list("passed_at", flat=True),
        "reviews": ReviewEvent.objects.filter(learner=learner, reviewed_at__gte=since)
        .exclude(rating=1)
        .values_list("reviewed_at", flat=True),
    }
    for key, values in moments.items():
        for moment in values:
            index = (timezone.localdate(moment) - first).days // 7
            if 0 <= index < weeks:
                rows[index][key] += 1
    return WeeklySummary(rows)
