"""What happens on others' events: signed-out progress joins the account on sign-up or log-in,
and every discussion change moves the stamp the anonymous page cache compares."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from lessons.account_devices import note_device
from lessons.models import (
    LEARNER_SESSION_KEY,
    Learner,
    Post,
    SignedInDevice,
    Thread,
    UsernameSkeleton,
    Vote,
)
from lessons.models.discussion import mark_discussion_changed


@receiver(user_logged_in, dispatch_uid="lessons.merge_visitor_progress")
def merge_visitor_progress(sender, request, user, **kwargs) -> None:
    # login() has already cycled the session key, but cycle_key() keeps the session's data, so
    # the visitor's Learner id is still here (a different user's session is flushed instead).
    if request is None or not hasattr(request, "session"):
        return
    visitor_id = request.session.get(LEARNER_SESSION_KEY)
    learner = Learner.objects.for_user(user)
    if visitor_id and visitor_id != learner.pk and learner.absorb(visitor_id):
        # fail_silently: a log-in outside the middleware (the test client's) has no messages.
        messages.success(request, "We saved your progress from this device.", fail_silently=True)
    request.session[LEARNER_SESSION_KEY] = learner.pk


@receiver([post_save, post_delete], sender=Thread, dispatch_uid="lessons.stamp_thread")
@receiver([post_save, post_delete], sender=Post, dispatch_uid="lessons.stamp_post")
@receiver([post_save, post_delete], sender=Vote, dispatch_uid="lessons.stamp_vote")
def discussion_changed(sender, **kwargs) -> None:
    mark_discussion_changed()


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="lessons.remember_skeleton")
def remember_username_skeleton(sender, instance, created, update_fields=None, **kwargs) -> None:
    """Every saved username gets its confusable skeleton stored (UsernameSkeleton)."""
    # Logging in saves last_login alone: no write for a username that cannot have changed.
    if update_fields is not None and "username" not in update_fields:
        return
    UsernameSkeleton.remember(instance)


@receiver(user_logged_in, dispatch_uid="lessons.note_device")
def note_signed_in_device(sender, request, user, **kwargs) -> None:
    """A new session joins the account's signed-in devices at log-in (login() has already
    given it its new key), so its first requests write nothing more."""
    if request is not None and hasattr(request, "session"):
        note_device(request)


@receiver(user_logged_out, dispatch_uid="lessons.forget_device")
def forget_signed_in_device(sender, request, user, **kwargs) -> None:
    """A session that logs out leaves the account's list of signed-in devices."""
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        SignedInDevice.objects.filter(session_key=key).delete()
