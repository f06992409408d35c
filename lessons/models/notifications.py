"""What a discussion tells a learner on their next visit: a reply to them, or their reply
accepted as the answer (and, when DISCUSSION_EMAIL_NOTIFICATIONS is on, an e-mail)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.urls import reverse
from django.utils import timezone

from lessons.models.accounts import AccountProfile


class NotificationQuerySet(models.QuerySet):
    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)

    def mark_read(self) -> int:
        return self.unread().update(read_at=timezone.now())


class Notification(models.Model):
    """Something for `recipient` to see on their next visit: a reply, or an accepted answer."""

    class Kind(models.TextChoices):
        REPLY = "reply", "replied"
        ANSWER = "answer", "marked your reply as the answer"

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="discussion_notifications"
    )
    post = models.ForeignKey("Post", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.REPLY)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_unread_idx")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}"

    @staticmethod
    def wanted_by(recipient_ids: set[int]) -> set[int]:
        """The users among `recipient_ids` who want to hear about replies (AccountProfile)."""
        if not recipient_ids:
            return set()
        off = AccountProfile.objects.filter(
            user__in=recipient_ids, replies=AccountProfile.Replies.OFF
        ).values_list("user_id", flat=True)
        return set(recipient_ids) - set(off)

    @staticmethod
    def send_emails(post, recipient_ids: set[int]) -> None:
        """Optional email (DISCUSSION_EMAIL_NOTIFICATIONS); the site badge works without it."""
        from django.core.mail import send_mail

        author = "Someone"
        if post.author:
            author = AccountProfile.of(post.author).display_name or post.author.get_username()
        lesson = post.thread.lesson
        wanting = get_user_model().objects.filter(pk__in=recipient_ids).exclude(email="")
        # No profile yet means the default, which is e-mail.
        wanting = wanting.exclude(
            account_profile__replies__in=[AccountProfile.Replies.SITE, AccountProfile.Replies.OFF]
        )
        for user in wanting:
            send_mail(
                f"{author} replied in “{post.thread.title_for(user)}”",
                f"{author} replied to you in the discussion of “{lesson.title}”.\n\n"
                f"{post.body}\n\nSee it on Querylab: {settings.SITE_URL}"
                f"{reverse('lessons:thread', args=[post.thread_id])}#post-{post.pk}",
                None,
                [user.email],
                fail_silently=True,
            )
