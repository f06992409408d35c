"""Deleting an account: everything personal goes in one transaction.

- The discussion: posts nobody else replied to (below them) are deleted, and threads nobody
  else wrote in. Posts and threads others answered stay, by "deleted user" (author null), so
  the replies still read; with `erase_posts` their text goes too (the deleted-post
  placeholder) and the thread titles become "[deleted]".
- Moderation records keep who acted: the actions this user took keep a pseudonym
  (`ModerationAction.former_actor`), not their name; actions others took on this user's posts
  stay as they are.
- Votes, flags they raised, notifications, progress, profile, devices and the username's
  skeleton go with the User row (on_delete=CASCADE); what other apps hold goes through their
  registered `erase` (lessons/personal_data.py: the sandbox drops the learner's sandboxes once
  the transaction commits).
- The username is held for ACCOUNT_USERNAME_HOLD_DAYS (RetiredUsername), so nobody can take
  it over at once.
- Every session of the user ends.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from lessons.account_devices import end_sessions
from lessons.models import (
    AccountProfile,
    ModerationAction,
    Post,
    RetiredUsername,
    SignedInDevice,
    Thread,
)
from lessons.models.discussion import mark_discussion_changed
from lessons.personal_data import registered_personal_data

ERASED_THREAD_TITLE = "[deleted]"


def pseudonym(user) -> str:
    """A stable stand-in for a deleted user in the moderation log: "deleted user 3f2a9c0b"."""
    digest = salted_hmac("querylab.former-actor", str(user.pk), algorithm="sha256").hexdigest()
    return f"deleted user {digest[:8]}"


def delete_account(user, *, erase_posts: bool = False) -> None:
    """Delete `user` and everything personal about them (see the module's docstring)."""
    with transaction.atomic():
        user_model = get_user_model()
        user = user_model.objects.select_for_update().get(pk=user.pk)
        RetiredUsername.hold(user.get_username())
        display_name = AccountProfile.of(user).display_name
        if display_name:  # nobody takes over the name others knew them by either
            RetiredUsername.hold(display_name)
        _leave_the_discussion(user, erase_posts=erase_posts)
        ModerationAction.objects.filter(actor=user).update(former_actor=pseudonym(user))
        for kind in registered_personal_data():
            kind.erase(user)
        sessions = list(
            SignedInDevice.objects.filter(user=user).values_list("session_key", flat=True)
        )
        transaction.on_commit(lambda: end_sessions(sessions))
        # Cascades to the user's Learner (progress, quiz attempts, self-checks, flashcards),
        # votes, flags, notifications, profile, devices and username skeleton.
        user.delete()
    mark_discussion_changed()


def _posts_others_answered(thread_ids: set[int], user_id: int) -> set[int]:
    """Ids of the posts in `thread_ids` with a post by someone else below them."""
    rows = list(
        Post.objects.filter(thread_id__in=thread_ids).values_list("pk", "parent_id", "author_id")
    )
    parent_of = {pk: parent for pk, parent, _ in rows}
    answered: set[int] = set()
    for _pk, parent, author in rows:
        if author == user_id:
            continue
        while parent is not None and parent not in answered:
            answered.add(parent)
            parent = parent_of.get(parent)
    return answered


def _leave_the_discussion(user, *, erase_posts: bool) -> None:
    mine = dict(Post.objects.filter(author=user).values_list("pk", "thread_id"))
    own_threads = set(Thread.objects.filter(author=user).values_list("pk", flat=True))
    answered = _posts_others_answered(set(mine.values()) | own_threads, user.pk)
    # A thread of theirs goes when its opening post goes: nobody else wrote in it.
    others_in = set(
        Post.objects.filter(thread_id__in=own_threads)
        .exclude(author=user)
        .values_list("thread_id", flat=True)
    )
    Thread.objects.filter(pk__in=own_threads - others_in).delete()
    Post.objects.filter(pk__in=set(mine) - answered).delete()
    kept = Post.objects.filter(author=user)
    if erase_posts:
        erased = list(kept.filter(deleted_at__isnull=True).values_list("pk", flat=True))
        Post.objects.filter(pk__in=erased).update(body="", body_html="", deleted_at=timezone.now())
        Thread.objects.filter(answer__in=erased).update(answer=None)
        Thread.objects.filter(author=user).update(title=ERASED_THREAD_TITLE, starter_topic="")
    kept.update(author=None)
    Thread.objects.filter(author=user).update(author=None)
