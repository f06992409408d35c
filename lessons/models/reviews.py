"""Reviews scheduled by FSRS, and how each learner stands on each graded exercise.

A ReviewItem is one thing that comes back to one learner: a flashcard they asked to see again,
a quiz question they missed, an exercise they failed, or a lesson whose confidence question
they answered. Its schedule is an FSRS card (the `fsrs` package, the Free Spaced Repetition
Scheduler that Anki uses): each grade (again / hard / good / easy) moves its due date, by
intervals that grow with each successful review. How an item enters review is its first
rating: a miss or "review again" is "again" (due tomorrow); a confidence answer is rated by
how sure the learner said they were (CONFIDENCE_RATING).

The scheduler works in whole days (no same-day learning steps, no fuzzing, so the schedule is
reproducible); an item is due on the local day of its due time.

ExerciseOutcome is the learner-facing summary of a graded exercise (passed, passed with the
solution, failed checks), written by the sandbox after each check; the attempts themselves
stay in sandbox.ExerciseAttempt.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import models, transaction
from django.utils import timezone
from fsrs import Card, Rating, Scheduler, State

from lessons.models.catalog import Exercise, Flashcard, Lesson, QuizQuestion
from lessons.models.learning import Confidence, Learner

SCHEDULER = Scheduler(learning_steps=(), relearning_steps=(), enable_fuzzing=False)

# The confidence answer is the lesson's first rating, so it sets its initial stability.
CONFIDENCE_RATING = {
    Confidence.NOT_YET: Rating.Again,
    Confidence.WITH_NOTES: Rating.Hard,
    Confidence.MOSTLY: Rating.Good,
    Confidence.EASILY: Rating.Easy,
}


def end_of_today() -> datetime:
    """The start of tomorrow, local time: what is due before it is due today."""
    tomorrow = timezone.localdate() + timedelta(days=1)
    return timezone.make_aware(datetime.combine(tomorrow, datetime.min.time()))


class ReviewItemQuerySet(models.QuerySet):
    def visible(self) -> ReviewItemQuerySet:
        """Items whose lesson and part are still published and active."""
        return self.filter(lesson__is_published=True).exclude(
            models.Q(card__is_active=False)
            | models.Q(question__is_active=False)
            | models.Q(exercise__is_active=False)
        )

    def due_today(self) -> ReviewItemQuerySet:
        return self.filter(due__lt=end_of_today())

    def later(self) -> ReviewItemQuerySet:
        return self.filter(due__gte=end_of_today())

    def item_for(self, learner: Learner, kind: str, part) -> ReviewItem | None:
        return self.filter(learner=learner, kind=kind, **{ReviewItem.PART[kind]: part}).first()

    def enter(self, learner: Learner, kind: str, part, rating: Rating) -> ReviewItem:
        """Put `part` (a Flashcard, QuizQuestion, Exercise or Lesson) in review with a first
        rating; if it is already in review and due, grade it with `rating` instead. An item
        already in review and not due yet is left as it is (a second miss the same day does
        not push it further), except a lesson: a new confidence answer is always a grade."""
        lesson = part if kind == ReviewItem.Kind.LESSON else part.lesson
        with transaction.atomic():
            item, created = self.select_for_update().get_or_create(
                learner=learner,
                kind=kind,
                **{ReviewItem.PART[kind]: part},
                defaults={"lesson": lesson, "due": timezone.now()},
            )
            if created or item.is_due or kind == ReviewItem.Kind.LESSON:
                item.grade(rating)
        return item


class ReviewItem(models.Model):
    class Kind(models.TextChoices):
        FLASHCARD = "card", "Flashcard"
        QUIZ = "quiz", "Quiz question"
        EXERCISE = "exercise", "Exercise"
        LESSON = "lesson", "Lesson"

    PART = {"card": "card", "quiz": "question", "exercise": "exercise", "lesson": "lesson"}

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="review_items")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="+")
    card = models.ForeignKey(Flashcard, null=True, on_delete=models.CASCADE, related_name="+")
    question = models.ForeignKey(
        QuizQuestion, null=True, on_delete=models.CASCADE, related_name="+"
    )
    exercise = models.ForeignKey(Exercise, null=True, on_delete=models.CASCADE, related_name="+")
    # The FSRS card's state (fsrs.Card's fields).
    state = models.PositiveSmallIntegerField(default=State.Learning.value)
    step = models.PositiveSmallIntegerField(null=True, blank=True)
    stability = models.FloatField(null=True, blank=True)
    difficulty = models.FloatField(null=True, blank=True)
    due = models.DateTimeField(default=timezone.now)
    last_review = models.DateTimeField(null=True, blank=True)
    reviews = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ReviewItemQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["learner", field],
                condition=models.Q(kind=kind),
                name=f"reviewitem_unique_{kind}",
            )
            for kind, field in (
                ("card", "card"),
                ("quiz", "question"),
                ("exercise", "exercise"),
                ("lesson", "lesson"),
            )
        ]
        indexes = [models.Index(fields=["learner", "due"], name="reviewitem_due")]

    def __str__(self) -> str:
        return f"{self.learner} · {self.kind} · due {self.due:%Y-%m-%d}"

    @property
    def part(self):
        return getattr(self, self.PART[self.kind])

    @property
    def is_due(self) -> bool:
        return self.due < end_of_today()

    @property
    def due_on(self):
        return timezone.localdate(self.due)

    def fsrs_card(self) -> Card:
        return Card(
            card_id=self.pk or 0,
            state=State(self.state),
            step=self.step,
            stability=self.stability,
            difficulty=self.difficulty,
            due=self.due.astimezone(UTC),
            last_review=self.last_review and self.last_review.astimezone(UTC),
        )

    def grade(self, rating: Rating | int, at: datetime | None = None) -> ReviewEvent:
        """Review the item now (or `at`) with `rating`, save its new schedule, log it."""
        at = (at or timezone.now()).astimezone(UTC)
        card, _ = SCHEDULER.review_card(self.fsrs_card(), Rating(rating), at)
        self.state, self.step = card.state.value, card.step
        self.stability, self.difficulty = card.stability, card.difficulty
        self.due, self.last_review = card.due, card.last_review
        self.reviews += 1
        self.save()
        return ReviewEvent.objects.create(
            learner=self.learner, item=self, rating=int(rating), reviewed_at=at
        )


class ReviewEvent(models.Model):
    """One grade given to a review item: the review log (and the weekly "reviews kept")."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="events")
    rating = models.PositiveSmallIntegerField()
    reviewed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["learner", "reviewed_at"], name="reviewevent_when")]

    def __str__(self) -> str:
        return f"{self.item_id} rated {self.rating} at {self.reviewed_at:%Y-%m-%d}"

    @property
    def kept(self) -> bool:
        """Remembered (hard, good or easy), not forgotten."""
        return self.rating != Rating.Again


class ExerciseOutcome(models.Model):
    """How one learner stands on one graded exercise (see the module docstring)."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="exercises")
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="+")
    failed_checks = models.PositiveIntegerField(default=0)
    passed_at = models.DateTimeField(null=True, blank=True)
    with_solution = models.BooleanField(default=False)  # read the solution before passing
    solution_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["learner", "exercise"], name="outcome_unique")
        ]

    def __str__(self) -> str:
        return f"{self.learner} · {self.exercise_id} · {self.status}"

    @property
    def status(self) -> str:
        if self.passed_at:
            return "passed with the solution" if self.with_solution else "passed"
        return "solution read" if self.solution_seen_at else "not passed yet"

    @classmethod
    def note_check(cls, learner: Learner, exercise: Exercise, *, passed: bool, with_solution: bool):
        """A checked answer: a first pass is dated (and marked "with the solution" if the
        solution was read before it); a failure is counted and puts the exercise in review."""
        with transaction.atomic():
            outcome, _ = cls.objects.select_for_update().get_or_create(
                learner=learner, exercise=exercise
            )
            if passed and outcome.passed_at is None:
                outcome.passed_at, outcome.with_solution = timezone.now(), with_solution
            elif not passed:
                outcome.failed_checks += 1
            outcome.save()
        if not passed:
            ReviewItem.objects.enter(learner, ReviewItem.Kind.EXERCISE, exercise, Rating.Again)
        return outcome

    @classmethod
    def note_solution(cls, learner: Learner, exercise: Exercise) -> None:
        """The learner read the solution before passing: it comes back for review."""
        outcome, _ = cls.objects.get_or_create(learner=learner, exercise=exercise)
        if outcome.solution_seen_at is None:
            outcome.solution_seen_at = timezone.now()
            outcome.save(update_fields=["solution_seen_at"])
        ReviewItem.objects.enter(learner, ReviewItem.Kind.EXERCISE, exercise, Rating.Again)

    def combine(self, other: ExerciseOutcome) -> None:
        """Fold another learner's outcome for the same exercise in (Learner.absorb)."""
        self.failed_checks += other.failed_checks
        if other.passed_at and (not self.passed_at or other.passed_at < self.passed_at):
            self.passed_at, self.with_solution = other.passed_at, other.with_solution
        seen = [when for when in (self.solution_seen_at, other.solution_seen_at) if when]
        self.solution_seen_at = min(seen) if seen else None
        self.save()


def absorb_reviews(learner: Learner, visitor: Learner) -> bool:
    """Move a visitor's review items, their log and exercise outcomes into `learner` (called
    by Learner.absorb, inside its transaction). Where both have an item for the same thing,
    the one reviewed last wins; both logs are kept."""
    moved = False
    for theirs in ReviewItem.objects.filter(learner=visitor):
        part = {
            ReviewItem.PART[theirs.kind] + "_id": getattr(
                theirs, ReviewItem.PART[theirs.kind] + "_id"
            )
        }
        mine = ReviewItem.objects.filter(learner=learner, kind=theirs.kind, **part).first()
        keep = theirs
        if mine is not None:
            newer = (theirs.last_review or theirs.created_at) > (
                mine.last_review or mine.created_at
            )
            keep, drop = (theirs, mine) if newer else (mine, theirs)
            ReviewEvent.objects.filter(item=drop).update(item=keep)
            drop.delete()
        if keep is theirs:
            theirs.learner = learner
            theirs.save(update_fields=["learner"])
        moved = True
    ReviewEvent.objects.filter(learner=visitor).update(learner=learner)
    for theirs in ExerciseOutcome.objects.filter(learner=visitor):
        mine = ExerciseOutcome.objects.filter(learner=learner, exercise_id=theirs.exercise_id)
        mine = mine.first()
        if mine is None:
            theirs.learner = learner
            theirs.save(update_fields=["learner"])
        else:
            mine.combine(theirs)
        moved = True
    return moved


def export_reviews(learner: Learner) -> dict:
    """The learner's review items and graded exercises, JSON-ready (Learner.export)."""
    items = learner.review_items.select_related(
        "lesson__track", "card", "question", "exercise"
    ).order_by("created_at")
    outcomes = learner.exercises.select_related("exercise__lesson__track").order_by("pk")
    return {
        "reviews": [
            {
                "lesson": item.lesson.ref,
                "kind": item.kind,
                "item": item.part.key if item.kind != ReviewItem.Kind.LESSON else None,
                "due": item.due.isoformat(),
                "stability": item.stability,
                "difficulty": item.difficulty,
                "reviews": item.reviews,
                "grades": [
                    {"rating": event.rating, "at": event.reviewed_at.isoformat()}
                    for event in item.events.order_by("reviewed_at")
                ],
            }
            for item in items
        ],
        "exercises": [
            {
                "lesson": outcome.exercise.lesson.ref,
                "exercise": outcome.exercise.key,
                "status": outcome.status,
                "failed_checks": outcome.failed_checks,
                "passed_at": outcome.passed_at and outcome.passed_at.isoformat(),
            }
            for outcome in outcomes
        ],
    }
