"""The account export: one JSON document with everything the site holds about a user
(docs/account-export.md describes it). Nothing of another learner: replies and notifications
are referred to by id, never by their authors' names or text."""

from __future__ import annotations

from django.utils import timezone

from lessons.models import (
    AccountProfile,
    Flag,
    Learner,
    ModerationAction,
    Notification,
    Post,
    SignedInDevice,
    Thread,
    Vote,
)
from lessons.personal_data import registered_personal_data

FORMAT = "querylab-account/1"


def _when(moment) -> str | None:
    return moment.isoformat() if moment else None


def export_account(user) -> dict:
    """Everything about `user`, JSON-ready: profile, devices, the progress export
    (querylab-progress/1, as /progress/export.json), the discussion, and every kind other
    apps registered (lessons/personal_data.py)."""
    learner = Learner.objects.filter(user=user).first()
    data = {
        "format": FORMAT,
        "exported_at": timezone.now().isoformat(),
        "profile": _profile(user),
        "devices": [
            {
                "browser": device.browser,
                "signed_in_at": _when(device.signed_in_at),
                "last_seen_at": _when(device.last_seen_at),
            }
            for device in SignedInDevice.objects.of_user(user)
        ],
        "progress": learner.export() if learner else Learner.empty_export(),
        "discussion": _discussion(user),
        "certificates": [
            {
                "track": certificate.track.slug,
                "name": certificate.name,
                "finished_on": certificate.finished_on.isoformat(),
                "exercises_passed": certificate.exercises_passed,
                "revoked_at": _when(certificate.revoked_at),
            }
            for certificate in user.certificates.select_related("track").order_by("pk")
        ],
    }
    for kind in registered_personal_data():
        data[kind.kind] = kind.export(user)
    return data


def _profile(user) -> dict:
    profile = AccountProfile.of(user)
    return {
        "username": user.get_username(),
        "display_name": profile.display_name,
        "email": user.email,
        "reply_notifications": profile.replies,
        "date_joined": _when(user.date_joined),
        "last_login": _when(user.last_login),
        "is_staff": user.is_staff,
    }


def _discussion(user) -> dict:
    return {**_threads_and_posts(user), **_votes_flags_and_notices(user)}


def _threads_and_posts(user) -> dict:
    threads = Thread.objects.filter(author=user).select_related("lesson__track").order_by("pk")
    posts = Post.objects.filter(author=user).select_related("thread__lesson__track")
    return {
        "threads": [
            {
                "id": thread.pk,
                "lesson": thread.lesson.ref,
                "title": thread.title,
                "starter_topic": thread.starter_topic,
                "created_at": _when(thread.created_at),
                "is_locked": thread.is_locked,
                "is_pinned": thread.is_pinned,
            }
            for thread in threads
        ],
        "posts": [
            {
                "id": post.pk,
                "thread": post.thread_id,
                "lesson": post.thread.lesson.ref,
                "in_reply_to": post.parent_id,
                "body": post.body,
                "created_at": _when(post.created_at),
                "edited_at": _when(post.edited_at),
                "deleted_at": _when(post.deleted_at),
                "hidden_at": _when(post.hidden_at),
            }
            for post in posts.order_by("pk")
        ],
    }


def _votes_flags_and_notices(user) -> dict:
    return {
        "votes": [
            {"post": vote.post_id, "at": _when(vote.created_at)}
            for vote in Vote.objects.filter(user=user).order_by("pk")
        ],
        "flags": [
            {
                "post": flag.post_id,
                "reason": flag.reason,
                "note": flag.note,
                "at": _when(flag.created_at),
                "resolved_at": _when(flag.resolved_at),
            }
            for flag in Flag.objects.filter(reporter=user).order_by("pk")
        ],
        "notifications": [
            {
                "kind": item.kind,
                "post": item.post_id,
                "thread": item.post.thread_id,
                "created_at": _when(item.created_at),
                "read_at": _when(item.read_at),
            }
            for item in Notification.objects.filter(recipient=user)
            .select_related("post")
            .order_by("pk")
        ],
        "moderation_actions": [
            {
                "action": action.action,
                "thread": action.thread_id,
                "post": action.post_id,
                "note": action.note,
                "at": _when(action.created_at),
            }
            for action in ModerationAction.objects.filter(actor=user).order_by("pk")
        ],
    }
