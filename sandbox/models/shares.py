"""Shared snapshots: a read-only copy of what a learner saw (the SQL, the result rows as shown,
or the plan and its advice, and the lesson) under an unguessable token, for anyone to open
without an account. A snapshot never runs anything: the page draws what was stored.

Who made it (``owner``, a ``lessons.Learner``) is kept only so that they, and nobody else, can
delete it or keep it; the shared page never shows it. Snapshots expire after
``SANDBOX_SHARE_EXPIRY_DAYS`` unless a signed-in owner keeps them; the janitor deletes the
expired ones (``Share.objects.expired()``)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_BYTES = 24  # 32 URL-safe characters, 192 random bits


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _expired() -> models.Q:
    kept_by_nobody = models.Q(expires_at__isnull=True, owner__isnull=True)
    return models.Q(expires_at__lte=timezone.now()) | kept_by_nobody


class ShareQuerySet(models.QuerySet):
    def live(self) -> ShareQuerySet:
        """Snapshots that can still be opened."""
        return self.exclude(_expired())

    def expired(self) -> ShareQuerySet:
        """Past their time, or kept by an owner who is gone (a deleted account): nobody could
        delete those any more."""
        return self.filter(_expired())

    def wait_before_next(self, learner) -> int | None:
        """Seconds until ``learner`` may share again (at most SANDBOX_SHARES_PER_HOUR an
        hour, counted in PostgreSQL so that it holds across processes), or None."""
        window = timedelta(hours=1)
        recent = self.filter(owner=learner, created_at__gte=timezone.now() - window)
        if recent.count() < settings.SANDBOX_SHARES_PER_HOUR:
            return None
        oldest = recent.order_by("created_at").values_list("created_at", flat=True)[0]
        return max(1, int((oldest + window - timezone.now()).total_seconds()))


class Share(models.Model):
    """One shared snapshot of a result or a plan."""

    class Kind(models.TextChoices):
        RESULT = "result", "Result"
        PLAN = "plan", "Plan"

    token = models.CharField(max_length=64, unique=True, default=new_token)
    owner = models.ForeignKey(
        "lessons.Learner", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lesson = models.ForeignKey(
        "lessons.Lesson", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    sql = models.TextField()
    # kind "result": {"results": [...], "shortened": bool}; kind "plan": {"plan", "text",
    # "advice", "elapsed_ms"}. Exactly what the page draws.
    snapshot = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)  # null: kept

    objects = ShareQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["expires_at"], name="sandbox_share_expires_idx"),
            models.Index(fields=["owner", "created_at"], name="sandbox_share_owner_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} snapshot {self.token[:6]}…"

    @staticmethod
    def default_expiry():
        return timezone.now() + timedelta(days=settings.SANDBOX_SHARE_EXPIRY_DAYS)

    @property
    def kept(self) -> bool:
        return self.expires_at is None

    def owned_by(self, learner) -> bool:
        return learner is not None and self.owner_id is not None and self.owner_id == learner.pk

    def keep(self) -> None:
        """Never expire (for signed-in owners: a visitor's session, and so their right to
        delete it, ends, which would leave a snapshot nobody can remove)."""
        self.expires_at = None
        self.save(update_fields=["expires_at"])
