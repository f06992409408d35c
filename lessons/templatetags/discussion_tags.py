from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


DELETED_USER = "deleted user"


@register.filter
def author_name(user) -> str:
    """The name the discussion shows for `user`: their display name, else their username;
    "deleted user" for a deleted account. Load the profile with
    select_related("author__account_profile") or this costs a query per author."""
    if user is None:
        return DELETED_USER
    profile = getattr(user, "account_profile", None)  # None when they have none
    return (profile.display_name if profile else "") or user.get_username()


@register.filter
def ago(moment: datetime | None) -> str:
    """ "just now" for the last minute, else "3 hours ago" (the largest unit only)."""
    if moment is None:
        return ""
    if timezone.now() - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment, depth=1)} ago"
