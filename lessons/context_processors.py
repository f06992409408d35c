from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def discussion(request: HttpRequest) -> dict:
    """`discussion_unread`: the header badge's count, queried only if a template shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"discussion_unread": 0}
    from lessons.models import Notification

    return {
        "discussion_unread": SimpleLazyObject(
            lambda: Notification.objects.filter(recipient=user).unread().count()
        )
    }
