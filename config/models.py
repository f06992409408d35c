"""Site-wide records: the counters behind ``/metrics`` (see config/metrics.py) and the
usernames' confusable skeletons (see config/spoofing.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from config.spoofing import username_skeleton


class Counter(models.Model):
    """One Prometheus counter series, kept in PostgreSQL so every gunicorn worker and every
    host adds to the same number (process memory would be per worker and lost on restart)."""

    metric = models.CharField(max_length=100)
    labels = models.CharField(max_length=200, blank=True)  # as written: bound="run_timeout"
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["metric", "labels"], name="counter_metric_labels")
        ]

    def __str__(self) -> str:
        return f"{self.metric}{{{self.labels}}} {self.value}"


class UsernameSkeletonQuerySet(models.QuerySet):
    def look_alikes(self, username: str) -> UsernameSkeletonQuerySet:
        """The users whose username looks like `username` (config/spoofing.py)."""
        return self.filter(skeleton=username_skeleton(username))


class UsernameSkeleton(models.Model):
    """A user's username reduced to its confusable skeleton, kept in step by a signal
    (config/signals.py), so that signing up as a look-alike of any existing user costs one
    indexed lookup instead of a pass over every username.

    Not unique: accounts made before this existed may already look alike, and refusing new
    look-alikes is the forms' job, with a message."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="username_skeleton",
    )
    skeleton = models.TextField()

    objects = UsernameSkeletonQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["skeleton"], name="username_skeleton_idx")]

    def __str__(self) -> str:
        return self.skeleton

    @classmethod
    def remember(cls, user) -> None:
        """Store (or update) the skeleton of `user`'s current username."""
        cls.objects.update_or_create(
            user=user, defaults={"skeleton": username_skeleton(user.get_username())}
        )
