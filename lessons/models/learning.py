"""The learning loop: what each learner did (lessons opened and completed, quiz attempts,
self-check marks, flashcard reviews, confidence), on a Learner that is a user or a signed-out
visitor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models, transaction
from django.dispatch import Signal
from django.utils import timezone

if TYPE_CHECKING:
    pass
from lessons.models.catalog import Flashcard, Lesson, QuizChoice, QuizQuestion, SelfCheckItem

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

# Sent by Learner.absorb inside its transaction, before the visitor is deleted, with
# ``learner`` (who keeps everything) and ``visitor``: apps that key rows by Learner outside the
# learning loop (the sandbox: sandboxes, exercise attempts, kept plans) move theirs then, so a
# log-in merges everything in one transaction. A receiver returns whether it moved anything.
learner_absorbed = Signal()

# The fixed ladder flashcards followed before FSRS (lessons/models/reviews.py) scheduled them;
# the migration that carried those reviews over read it.
REVIEW_INTERVALS_DAYS = (1, 3, 7, 21)


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
        flashcard review win, every quiz attempt is kept, and the reviews; other apps move their
        rows from ``learner_absorbed`` (the sandbox: see ``sandbox.models.records.move_learner``).
        The visitor is deleted. Returns whether there was anything to move."""
        from lessons.models.reviews import absorb_reviews  # it builds on this module

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
            moved |= absorb_reviews(self, visitor)
            answers = learner_absorbed.send(sender=Learner, learner=self, visitor=visitor)
            moved |= any(answer for _, answer in answers)
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
            **{
                part: []
                for part in (
                    "lessons",
                    "quiz_attempts",
                    "self_checks",
                    "flashcards",
                    "reviews",
                    "exercises",
                )
            },
        }

    def export(self) -> dict:
        """Everything this learner did, JSON-ready, keyed by the lessons' stable names."""
        from lessons.models.reviews import export_reviews  # it builds on this module

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
            **export_reviews(self),
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

    def exercise_passed(
        self, learner: Learner, lesson: Lesson, *, all_passed: bool
    ) -> LessonProgress:
        """A graded exercise of `lesson` passed: the lesson is started, and completed once every
        one of its exercises has passed. Unlike a quiz (unlimited retries), a passing query is
        evidence the learner can do what the lesson teaches, so it may complete the lesson."""
        progress = self.start(learner, lesson)
        if all_passed:
            progress.mark_complete()
        return progress

    def open_lesson(
        self, user_id: int | None, visitor_id: int | None, lesson: Lesson, steps: list[Lesson]
    ) -> list[LessonProgress]:
        """Record that a learner opened `lesson` (as start() does) and return their rows for
        every lesson in `steps`, in one query: the learner is the user's (`user_id`), else the
        signed-out visitor's (`visitor_id`, from their session). Empty when there is none."""
        learners = Learner._meta.db_table
        if user_id is not None:
            owner, owner_params = "user_id = %s", [user_id]
        elif visitor_id is not None:
            owner, owner_params = "id = %s AND user_id IS NULL", [visitor_id]
        else:
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
    """The learner's last answer to a card on the lesson page, and when it comes back.

    The schedule itself is the card's FSRS review item (lessons/models/reviews.py): "Review
    again" puts the card in review (due tomorrow) or grades it "again"; "knew it" on a card in
    review grades it "good". `due_on` mirrors the item's due day for the lesson page; a card
    never put in review has none. (`stage` is the old fixed ladder's, no longer used.)"""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="card_reviews")
    card = models.ForeignKey(Flashcard, on_delete=models.CASCADE, related_name="+")
    knew_it = models.BooleanField()
    stage = models.PositiveSmallIntegerField(default=0)  # the old ladder's; unused
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
        from fsrs import Rating

        from lessons.models.reviews import ReviewItem  # it builds on this module

        kind = ReviewItem.Kind.FLASHCARD
        with transaction.atomic():
            review, _ = cls.objects.select_for_update().get_or_create(
                learner=learner, card=card, defaults={"knew_it": knew_it}
            )
            item = ReviewItem.objects.item_for(learner, kind, card)
            if item is None and not knew_it:
                item = ReviewItem.objects.enter(learner, kind, card, Rating.Again)
            elif item is not None:
                item.grade(Rating.Good if knew_it else Rating.Again)
            review.knew_it, review.updated_at = knew_it, timezone.now()
            review.due_on = item.due_on if item is not None else None
            review.save()
        return review

    @property
    def is_due(self) -> bool:
        return self.due_on is not None and self.due_on <= timezone.localdate()
