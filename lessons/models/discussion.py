"""The discussion of each lesson: threads, posts, votes, flags, moderation and notifications.

Posts are Markdown rendered once on save (lessons/discussion_text.py). Who may do what is a model
method (`can_edit`, `can_reply`…), so views and templates ask one place.
"""

from __future__ import annotations

import functools
import time
from datetime import timedelta
from typing import TYPE_CHECKING, NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import models, transaction
from django.utils import timezone

from lessons.discussion_text import render_post

if TYPE_CHECKING:
    pass
from lessons.models.catalog import Lesson
from lessons.models.moderation import Flag, ModerationAction
from lessons.models.notifications import Notification


class SignedInReader:
    """Who a signed-in page's shell (lessons/page_shells.py) shows the discussion to: signed
    in, not staff, with no posts and no votes. Each reader's own buttons are put in per
    request (lessons.models.signed_in)."""

    pk = 0  # nobody's id: not the author of any post
    is_authenticated = True
    is_staff = False


SIGNED_IN_READER = SignedInReader()


class DiscussionLimit(NamedTuple):
    """Why a user may not post right now, and when they may try again."""

    message: str
    retry_after: int  # seconds


class ThreadQuerySet(models.QuerySet):
    def listed(self) -> ThreadQuerySet:
        """Pinned first, then newest activity first, with the number of replies."""
        return (
            self.select_related("author", "lesson__track")
            .annotate(
                reply_count=models.Count(
                    "posts",
                    filter=models.Q(posts__parent__isnull=False, posts__deleted_at__isnull=True),
                )
            )
            .order_by("-is_pinned", "-last_activity_at", "-id")
        )

    @transaction.atomic
    def start(
        self, *, lesson: Lesson, author, title: str, body: str, starter_topic: str = ""
    ) -> Thread:
        """A new thread on `lesson` with its opening post."""
        thread = self.create(lesson=lesson, author=author, title=title, starter_topic=starter_topic)
        Post.objects.create(thread=thread, author=author, body=body)
        return thread


HIDDEN_THREAD_TITLE = "[hidden thread]"


class Thread(models.Model):
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="threads")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="discussion_threads",
    )
    title = models.CharField(max_length=200)
    # The lesson's starter topic this thread was started from, if any (its text at the time).
    starter_topic = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_activity_at = models.DateTimeField(default=timezone.now)
    is_locked = models.BooleanField(default=False)
    is_pinned = models.BooleanField(default=False)
    answer = models.ForeignKey(
        "Post", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = ThreadQuerySet.as_manager()

    class Meta:
        ordering = ["-is_pinned", "-last_activity_at"]
        indexes = [
            models.Index(
                fields=["lesson", "-is_pinned", "-last_activity_at"], name="thread_listing_idx"
            )
        ]
        constraints = [
            # "Pin one": pinning a thread unpins the lesson's previous pinned thread.
            models.UniqueConstraint(
                fields=["lesson"],
                condition=models.Q(is_pinned=True),
                name="thread_one_pinned_per_lesson",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @functools.cached_property
    def is_hidden(self) -> bool:
        """A thread is hidden when a moderator hid its opening post: then its title, like its
        text, is shown to staff only."""
        opening = self.__dict__.get("opening")  # set by attach_posts, saving a query
        if opening is not None:
            return opening.is_hidden
        return self.posts.filter(parent__isnull=True, hidden_at__isnull=False).exists()

    def title_for(self, user) -> str:
        return self.title if user.is_staff or not self.is_hidden else HIDDEN_THREAD_TITLE

    def can_reply(self, user) -> bool:
        return user.is_authenticated and (not self.is_locked or user.is_staff)

    def can_mark_answer(self, user) -> bool:
        return user.is_authenticated and (user.is_staff or user.pk == self.author_id)

    def can_mark_as_answer(self, user, post: Post) -> bool:
        """The asker marks someone else's visible reply; staff mark any visible reply."""
        return (
            self.can_mark_answer(user)
            and not post.is_opening
            and not post.is_deleted
            and not post.is_hidden
            and (user.is_staff or post.author_id != user.pk)
        )

    @staticmethod
    def attach_posts(threads: list[Thread], user) -> None:
        """Load the posts of `threads` in one query and arrange them for display.

        Each thread gets `opening` (its first post) and `reply_groups`: [(reply, [nested…])],
        a reply to a reply sitting under the top-level reply it descends from, the group
        holding the accepted answer first. Every post gets the `user_can_*` flags templates need.
        """
        by_thread: dict[int, list[Post]] = {thread.pk: [] for thread in threads}
        for post in Post.objects.filter(thread__in=by_thread).for_display(user):
            by_thread[post.thread_id].append(post)
        for thread in threads:
            posts = by_thread[thread.pk]
            by_id = {post.pk: post for post in posts}
            thread.opening = next((post for post in posts if post.is_opening), None)
            thread.user_can_reply = thread.can_reply(user)
            thread.user_can_mark_answer = thread.can_mark_answer(user)
            groups: dict[int, tuple[Post, list[Post]]] = {}
            for post in posts:
                post.thread = thread  # already loaded; keeps permission checks query-free
                post.set_flags_for(user)
                if post.is_opening:
                    continue
                top = post
                while top.parent_id in by_id and not by_id[top.parent_id].is_opening:
                    top = by_id[top.parent_id]
                if top is post:
                    groups[post.pk] = (post, [])
                elif top.pk in groups:
                    groups[top.pk][1].append(post)
            ordered = sorted(
                groups.values(),
                key=lambda group: (
                    not (group[0].is_answer or any(post.is_answer for post in group[1]))
                ),
            )
            thread.reply_groups = ordered

    @transaction.atomic
    def add_reply(self, *, author, parent: Post, body: str) -> Post:
        """A reply to `parent` (a post of this thread); notifies the people it answers."""
        assert parent.thread_id == self.pk
        reply = Post.objects.create(thread=self, author=author, parent=parent, body=body)
        Thread.objects.filter(pk=self.pk).update(last_activity_at=reply.created_at)
        recipients = Notification.wanted_by({self.author_id, parent.author_id} - {author.pk, None})
        Notification.objects.bulk_create(
            Notification(recipient_id=recipient, post=reply, kind=Notification.Kind.REPLY)
            for recipient in sorted(recipients)
        )
        if settings.DISCUSSION_EMAIL_NOTIFICATIONS and recipients:
            transaction.on_commit(lambda: Notification.send_emails(reply, recipients))
        return reply

    @transaction.atomic
    def toggle_answer(self, post: Post, *, by) -> bool:
        """Mark `post` as this thread's answer, or unmark it if it is. True when marked."""
        assert post.thread_id == self.pk and post.parent_id is not None
        if self.answer_id == post.pk:
            self.answer = None
        else:
            self.answer = post
            if (
                post.author_id
                and post.author_id != by.pk
                and Notification.wanted_by({post.author_id})
            ):
                Notification.objects.create(
                    recipient_id=post.author_id, post=post, kind=Notification.Kind.ANSWER
                )
        self.save(update_fields=["answer"])
        if by.pk != self.author_id:
            ModerationAction.objects.create(
                actor=by,
                action=ModerationAction.Action.MARK_ANSWER
                if self.answer_id
                else ModerationAction.Action.UNMARK_ANSWER,
                thread=self,
                post=post,
            )
        return self.answer_id is not None

    @transaction.atomic
    def moderate(self, action: str, *, by, note: str = "") -> None:
        """Lock, unlock, pin or unpin, recorded as a ModerationAction."""
        actions = ModerationAction.Action
        if action == actions.PIN:
            Thread.objects.filter(lesson_id=self.lesson_id, is_pinned=True).exclude(
                pk=self.pk
            ).update(is_pinned=False)
        field, value = {
            actions.LOCK: ("is_locked", True),
            actions.UNLOCK: ("is_locked", False),
            actions.PIN: ("is_pinned", True),
            actions.UNPIN: ("is_pinned", False),
        }[action]
        setattr(self, field, value)
        self.save(update_fields=[field])
        ModerationAction.objects.create(actor=by, action=action, thread=self, note=note)


class PostQuerySet(models.QuerySet):
    def visible(self) -> PostQuerySet:
        return self.filter(deleted_at__isnull=True, hidden_at__isnull=True)

    def for_display(self, user) -> PostQuerySet:
        """With authors, vote counts and whether `user` voted, in one query."""
        posts = (
            self.select_related("author__account_profile", "parent__author__account_profile")
            .defer("body", "parent__body", "parent__body_html")
            .annotate(vote_count=models.Count("votes"))
        )
        if user.is_authenticated and user.pk:
            posts = posts.annotate(
                voted=models.Exists(Vote.objects.filter(post=models.OuterRef("pk"), user=user))
            )
        return posts.order_by("created_at", "id")

    def flagged(self) -> PostQuerySet:
        """Posts with open flags, most flagged first: the moderation queue."""
        open_flags = models.Q(flags__resolved_at__isnull=True)
        has_open_flags = Flag.objects.filter(post=models.OuterRef("pk"), resolved_at__isnull=True)
        return (
            self.filter(models.Exists(has_open_flags))
            .select_related("author", "thread__lesson__track")
            .annotate(
                open_flag_count=models.Count("flags", filter=open_flags),
                last_flagged_at=models.Max("flags__created_at", filter=open_flags),
            )
            .order_by("-open_flag_count", "-last_flagged_at")
        )

    def posting_limit_for(self, user) -> DiscussionLimit | None:
        """Why `user` may not post now (too many posts too fast), or None.

        Call inside a transaction: it locks the user's row so that one user's parallel posts
        are counted one after the other instead of all slipping under the limit together.
        """
        if user.is_staff:
            return None
        user_model = get_user_model()
        list(user_model.objects.select_for_update().filter(pk=user.pk).values_list("pk"))
        now = timezone.now()
        minute_ago = now - timedelta(minutes=1)
        day_ago = now - timedelta(days=1)
        is_new = user.date_joined > now - timedelta(hours=settings.DISCUSSION_NEW_ACCOUNT_HOURS)
        recent = self.filter(author=user, created_at__gte=day_ago).aggregate(
            last_minute=models.Count("id", filter=models.Q(created_at__gte=minute_ago)),
            first_in_minute=models.Min("created_at", filter=models.Q(created_at__gte=minute_ago)),
            last_day=models.Count("id"),
            first_in_day=models.Min("created_at"),
        )
        per_minute = (
            settings.DISCUSSION_NEW_ACCOUNT_POSTS_PER_MINUTE
            if is_new
            else settings.DISCUSSION_POSTS_PER_MINUTE
        )
        if is_new and recent["last_day"] >= settings.DISCUSSION_NEW_ACCOUNT_POSTS_PER_DAY:
            wait = recent["first_in_day"] + timedelta(days=1) - now
            account_age_wait = (
                user.date_joined + timedelta(hours=settings.DISCUSSION_NEW_ACCOUNT_HOURS) - now
            )
            return DiscussionLimit(
                f"New accounts can post {settings.DISCUSSION_NEW_ACCOUNT_POSTS_PER_DAY} times "
                "in their first day, and you have reached that. Thanks for joining in — "
                "please come back a little later.",
                max(1, int(min(wait, account_age_wait).total_seconds()) + 1),
            )
        if recent["last_minute"] >= per_minute:
            wait = recent["first_in_minute"] + timedelta(minutes=1) - now
            seconds = max(1, int(wait.total_seconds()) + 1)
            return DiscussionLimit(
                f"You are posting faster than {per_minute} posts a minute. "
                f"Please wait {seconds} seconds and try again; your text is still here.",
                seconds,
            )
        return None

    def is_duplicate(self, *, author, body: str) -> bool:
        """True if `author` posted the same text (ignoring spacing) recently."""
        since = timezone.now() - timedelta(seconds=settings.DISCUSSION_DUPLICATE_WINDOW_SECONDS)
        wanted = normalise_text(body)
        recent = self.filter(author=author, created_at__gte=since, deleted_at__isnull=True)
        return any(normalise_text(text) == wanted for text in recent.values_list("body", flat=True))


def normalise_text(text: str) -> str:
    return " ".join(text.split()).casefold()


class Post(models.Model):
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # The post this one answers; None for the thread's opening post.
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies"
    )
    body = models.TextField()  # Markdown, as written
    body_html = models.TextField(editable=False)  # rendered on save, never per request
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    hidden_at = models.DateTimeField(null=True, blank=True)

    objects = PostQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["thread", "created_at"], name="post_thread_created_idx"),
            models.Index(fields=["author", "-created_at"], name="post_author_recent_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["thread"],
                condition=models.Q(parent__isnull=True),
                name="post_one_opening_per_thread",
            )
        ]

    def __str__(self) -> str:
        return f"post {self.pk} in {self.thread_id}"

    def save(self, *args, **kwargs) -> None:
        if self.deleted_at is None:
            runnable = self.thread.lesson.mode == Lesson.Mode.SQL_SANDBOX
            self.body_html = render_post(self.body, runnable_sql=runnable)
        if kwargs.get("update_fields") and "body" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "body_html"}
        super().save(*args, **kwargs)

    @property
    def is_opening(self) -> bool:
        return self.parent_id is None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None

    def set_flags_for(self, user) -> None:
        """Set `is_answer` and the `user_can_*` flags the templates read, for `user`. The
        thread must be loaded with its `is_hidden` known (attach_posts, open_signed_in_page)."""
        thread = self.thread
        self.is_answer = self.pk == thread.answer_id
        self.user_can_edit = self.can_edit(user)
        self.user_can_delete = self.can_delete(user)
        self.user_can_reply = self.can_reply(user)
        self.user_can_vote = self.can_vote(user)
        self.user_can_flag = self.can_flag(user)
        self.user_can_mark_answer = thread.can_mark_as_answer(user, self)

    def can_edit(self, user) -> bool:
        """Authors edit their own posts (not in a locked thread); staff edit any post."""
        if not user.is_authenticated or self.is_deleted:
            return False
        if user.is_staff:
            return True
        return user.pk == self.author_id and not self.is_hidden and not self.thread.is_locked

    def can_delete(self, user) -> bool:
        return self.can_edit(user)

    def can_reply(self, user) -> bool:
        """Anyone who may write in the thread, to a post they can read: not a deleted one, and
        (except for staff) not a hidden one or one in a hidden thread."""
        if not self.thread.can_reply(user) or self.is_deleted:
            return False
        return user.is_staff or not (self.is_hidden or self.thread.is_hidden)

    def can_vote(self, user) -> bool:
        return (
            user.is_authenticated
            and user.pk != self.author_id
            and not self.is_deleted
            and not self.is_hidden
        )

    def can_flag(self, user) -> bool:
        return self.can_vote(user)

    @transaction.atomic
    def edit(self, *, body: str, by, title: str | None = None) -> None:
        self.body = body
        self.edited_at = timezone.now()
        self.save(update_fields=["body", "edited_at"])
        if title is not None and self.is_opening and title != self.thread.title:
            self.thread.title = title
            self.thread.save(update_fields=["title"])
        if by.pk != self.author_id:
            ModerationAction.objects.create(
                actor=by, action=ModerationAction.Action.EDIT, thread=self.thread, post=self
            )

    @transaction.atomic
    def soft_delete(self, *, by) -> None:
        """Remove the text but keep the post as a "deleted" placeholder, so replies still read."""
        self.body = ""
        self.body_html = ""
        self.deleted_at = timezone.now()
        self.save(update_fields=["body", "body_html", "deleted_at"])
        Thread.objects.filter(pk=self.thread_id, answer=self).update(answer=None)
        if by.pk != self.author_id:
            ModerationAction.objects.create(
                actor=by, action=ModerationAction.Action.DELETE, thread=self.thread, post=self
            )

    def toggle_vote(self, user) -> bool:
        """Upvote, or take the upvote back. True when the user now has a vote on the post."""
        deleted, _ = Vote.objects.filter(post=self, user=user).delete()
        if deleted:
            return False
        # A double click racing itself ends with one vote, not an error.
        Vote.objects.get_or_create(post=self, user=user)
        return True

    def flag(self, *, reporter, reason: str, note: str = "") -> Flag:
        """One open flag per reporter and post; flagging again updates the reason."""
        flag, _ = Flag.objects.update_or_create(
            post=self,
            reporter=reporter,
            resolved_at=None,
            defaults={"reason": reason, "note": note},
        )
        return flag

    @transaction.atomic
    def moderate(self, action: str, *, by, note: str = "") -> None:
        """Hide, restore or dismiss the flags on this post; resolves open flags either way."""
        actions = ModerationAction.Action
        now = timezone.now()
        if action == actions.HIDE:
            self.hidden_at = now
            Thread.objects.filter(pk=self.thread_id, answer=self).update(answer=None)
        elif action == actions.RESTORE:
            self.hidden_at = None
        elif action != actions.DISMISS_FLAGS:
            raise ValueError(f"not a post action: {action}")
        self.save(update_fields=["hidden_at"])
        self.flags.filter(resolved_at__isnull=True).update(resolved_at=now, resolved_by=by)
        ModerationAction.objects.create(
            actor=by, action=action, thread_id=self.thread_id, post=self, note=note
        )


class Vote(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "user"], name="vote_once_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id} ▲ {self.post_id}"


# The anonymous page cache (lessons/page_cache.py) serves whole lesson pages, discussion included;
# it compares this stamp, kept in the shared database cache, so a post shows up for signed-out
# readers within LESSON_PAGE_CACHE_SECONDS on every server process.
DISCUSSION_STAMP_KEY = "discussion:stamp"


def discussion_stamp() -> int:
    """Changes whenever something a discussion shows changes."""
    return cache.get(DISCUSSION_STAMP_KEY, 0)


def mark_discussion_changed() -> None:
    """Called on every change to a thread, post or vote (connected in lessons/signals.py)."""
    cache.set(DISCUSSION_STAMP_KEY, time.time_ns(), None)
