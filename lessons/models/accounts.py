"""Accounts: what the site keeps about a user beyond Django's User: the confusable skeleton of
their username (lessons/spoofing.py), their profile (display name, reply notifications), the
devices they are signed in on, and the held usernames of deleted accounts."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac

from lessons.spoofing import username_skeleton


class UsernameSkeletonQuerySet(models.QuerySet):
    def look_alikes(self, username: str) -> UsernameSkeletonQuerySet:
        """The users whose username looks like `username` (lessons/spoofing.py)."""
        return self.filter(skeleton=username_skeleton(username))


class UsernameSkeleton(models.Model):
    """A user's username reduced to its confusable skeleton, kept in step by a signal
    (lessons/signals.py), so that signing up as a look-alike of any existing user costs one
    indexed lookup instead of a pass over every username.

    Not unique: accounts made before this existed may already look alike, and refusing new
    look-alikes is the forms' job, with a message."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="username_skeleton",
    )
    skeleton = models.TextField()

    objects = UsernameSkeletonQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["skeleton"], name="username_skeleton_idx")]

    def __str__(self) -> str:
        return self.skeleton

    @classmethod
    def remember(cls, user) -> None:
        """Store (or update) the skeleton of `user`'s current username."""
        cls.objects.update_or_create(
            user=user, defaults={"skeleton": username_skeleton(user.get_username())}
        )


# -- The account page (lessons/account_views.py) ---------------------------------------------


class AccountProfile(models.Model):
    """What a user sets on /account/ beyond Django's User: the name shown in the discussion
    (and on certificates), and how replies reach them. Made on first save; a user without a
    row shows their username and gets replies on the site and by e-mail (the default)."""

    class Replies(models.TextChoices):
        EMAIL = "email", "On the site and by e-mail"
        SITE = "site", "On the site only"
        OFF = "off", "Not at all"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="account_profile",
    )
    display_name = models.CharField(max_length=60, blank=True)
    # The confusable skeleton of display_name ("" when none), so a display name cannot pass
    # for another user's username or display name (lessons/spoofing.py).
    display_skeleton = models.TextField(blank=True, db_index=True)
    replies = models.CharField(max_length=10, choices=Replies.choices, default=Replies.EMAIL)

    def __str__(self) -> str:
        return self.display_name or str(self.user_id)

    def save(self, *args, **kwargs) -> None:
        self.display_skeleton = username_skeleton(self.display_name) if self.display_name else ""
        super().save(*args, **kwargs)

    @classmethod
    def of(cls, user) -> AccountProfile:
        """The user's profile, unsaved defaults when they have none yet."""
        try:
            return user.account_profile
        except cls.DoesNotExist:
            return cls(user=user)


def name_is_taken(name: str, *, by_user_id: int | None = None) -> bool:
    """Whether `name` (a username or display name) looks like another user's username or
    display name, or like a deleted account's username still held (RetiredUsername)."""
    skeleton = username_skeleton(name)
    usernames = UsernameSkeleton.objects.filter(skeleton=skeleton)
    displays = AccountProfile.objects.filter(display_skeleton=skeleton)
    if by_user_id is not None:
        usernames = usernames.exclude(user=by_user_id)
        displays = displays.exclude(user=by_user_id)
    return usernames.exists() or displays.exists() or RetiredUsername.is_held(name)


class SignedInDeviceQuerySet(models.QuerySet):
    def of_user(self, user) -> SignedInDeviceQuerySet:
        """The user's devices whose session is still alive, last seen first."""
        return self.filter(user=user).alive().order_by("-last_seen_at")

    def alive(self) -> SignedInDeviceQuerySet:
        return self.filter(
            session_key__in=Session.objects.filter(expire_date__gt=timezone.now()).values(
                "session_key"
            )
        )

    def forget_ended(self, user) -> int:
        """Forget the user's devices whose session expired (or ended without a log-out)."""
        deleted, _ = self.filter(user=user).exclude(pk__in=self.alive().values("pk")).delete()
        return deleted


class SignedInDevice(models.Model):
    """One signed-in session of a user: which browser, since when, last seen when.

    Sessions are Django's (cached_db) and hold no user id in a column, so this row links a
    session key to its user, for "Signed-in devices" and "Sign out everywhere else". Written
    at log-in and then at most once per ACCOUNT_DEVICE_SEEN_MINUTES per session
    (lessons/account_devices.py), never on most requests."""

    session_key = models.CharField(max_length=40, primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signed_in_devices"
    )
    browser = models.CharField(max_length=100, blank=True)  # the user agent, summarised
    signed_in_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    objects = SignedInDeviceQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["user", "-last_seen_at"], name="device_user_recent_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} · {self.browser}"


class RetiredUsername(models.Model):
    """The username of a deleted account, held for ACCOUNT_USERNAME_HOLD_DAYS so nobody can
    take it over and pass for the person who left. Only a keyed hash of the name's skeleton is
    stored: enough to refuse a look-alike, not enough to read the name back."""

    digest = models.CharField(max_length=64, primary_key=True)
    held_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"held until {self.held_until:%Y-%m-%d}"

    @staticmethod
    def digest_of(name: str) -> str:
        # Keyed with SECRET_KEY: a copy of the table alone cannot confirm a guessed name.
        return salted_hmac(
            "querylab.retired-username", username_skeleton(name), algorithm="sha256"
        ).hexdigest()

    @classmethod
    def hold(cls, name: str) -> None:
        until = timezone.now() + timedelta(days=settings.ACCOUNT_USERNAME_HOLD_DAYS)
        cls.objects.update_or_create(digest=cls.digest_of(name), defaults={"held_until": until})

    @classmethod
    def is_held(cls, name: str) -> bool:
        return cls.objects.filter(
            digest=cls.digest_of(name), held_until__gt=timezone.now()
        ).exists()
