"""Accounts: what the site keeps about a user beyond Django's User, such as the confusable
skeleton of their username (lessons/spoofing.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from lessons.spoofing import username_skeleton


class UsernameSkeletonQuerySet(models.QuerySet):
    def look_alikes(self, username: str) -> UsernameSkeletonQuerySet:
        """The users whose username looks like `username` (lessons/spoofing.py)."""
        return self.filter(skeleton=username_skeleton(username))


class UsernameSkeleton(models.Model):
    """A user's username reduced to its confusable skeleton, kept in step by a signal
    (lessons/signals.py), so that signing up as a look-alike of any existing user costs one
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
