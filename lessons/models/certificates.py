"""Certificates of completion: a finished track, at an unguessable URL anyone can open to
verify it, revocable by its learner.

A certificate is for an account (it carries the learner's name): a signed-out visitor who
finishes a track is asked to sign up, and their progress moves into the account
(Learner.absorb), after which they can take it. What it states is fixed when it is issued
(the name, the date the track was finished, the exercises passed), so a later change of name or
of the track does not change what was certified; the learner can revoke it and take a new one.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from lessons.models.catalog import Lesson, Track
from lessons.models.learning import Learner, LessonProgress
from lessons.models.reviews import ExerciseOutcome


class NotFinished(Exception):
    """The track is not finished yet: the message says what is left."""


def new_token() -> str:
    return secrets.token_urlsafe(24)  # 192 random bits: not guessable, not enumerable


class CertificateQuerySet(models.QuerySet):
    def valid(self) -> CertificateQuerySet:
        return self.filter(revoked_at__isnull=True)

    def issue(self, user, track: Track, name: str) -> Certificate:
        """The user's certificate for `track`: their valid one if they have it, else a new one.
        Raises NotFinished unless every published lesson of the track is completed."""
        existing = self.valid().filter(user=user, track=track).first()
        if existing is not None:
            return existing
        learner = Learner.objects.for_user(user)
        lessons = Lesson.objects.published().filter(track=track)
        done = LessonProgress.objects.completed().filter(learner=learner, lesson__in=lessons)
        left = lessons.count() - done.count()
        if left or not lessons.exists():
            raise NotFinished(
                f"Finish every lesson of {track.title} first: {left} left to mark done."
            )
        passed = ExerciseOutcome.objects.filter(
            learner=learner,
            passed_at__isnull=False,
            exercise__lesson__in=lessons,
            exercise__is_active=True,
        )
        return self.create(
            user=user,
            track=track,
            name=name,
            finished_on=timezone.localdate(done.aggregate(last=models.Max("completed_at"))["last"]),
            exercises_passed=passed.count(),
            with_solution=passed.filter(with_solution=True).count(),
        )


class Certificate(models.Model):
    token = models.CharField(max_length=64, unique=True, default=new_token)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="certificates"
    )
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=150)  # the learner's display name when issued
    finished_on = models.DateField()
    exercises_passed = models.PositiveIntegerField(default=0)
    with_solution = models.PositiveIntegerField(default=0)  # of those, passed with the solution
    issued_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = CertificateQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "track"],
                condition=models.Q(revoked_at__isnull=True),
                name="certificate_one_valid_per_track",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} · {self.track} · {self.finished_on}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def revoke(self) -> None:
        Certificate.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        self.revoked_at = self.revoked_at or timezone.now()
