"""Every saved username gets its confusable skeleton stored (config.models.UsernameSkeleton)."""

from __future__ import annotations

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from config.models import UsernameSkeleton


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="config.remember_skeleton")
def remember_username_skeleton(sender, instance, created, update_fields=None, **kwargs) -> None:
    # Logging in saves last_login alone: no write for a username that cannot have changed.
    if update_fields is not None and "username" not in update_fields:
        return
    UsernameSkeleton.remember(instance)
