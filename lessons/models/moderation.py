"""Moderation of the discussion: flags learners raise on posts, and the record of every
moderating change (who did what to which post or thread, and when)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Flag(models.Model):
    class Reason(models.TextChoices):
        SPAM = "spam", "Spam or advertising"
        ABUSE = "abuse", "Rude, abusive or harassing"
        OFF_TOPIC = "off_topic", "Off topic"
        WRONG = "wrong", "Dangerous or misleading advice"
        OTHER = "other", "Something else"

    post = models.ForeignKey("Post", on_delete=models.CASCADE, related_name="flags")
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
        "Thread", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    post = models.ForeignKey(
        "Post", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set when the actor's account is deleted (actor becomes null): a pseudonym such as
    # "deleted user 3f2a9c0b", the same for all their actions, so the log still shows that one
    # person did them without keeping who they were (lessons/account_deletion.py).
    former_actor = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor_id} at {self.created_at:%Y-%m-%d %H:%M}"
