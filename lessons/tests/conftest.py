"""Fixtures for the lessons app's tests."""

from __future__ import annotations

import pytest

from lessons.models import Lesson, Track

# -- Discussion -------------------------------------------------------------------------------


@pytest.fixture
def lesson(db) -> Lesson:
    track = Track.objects.create(slug="postgresql", title="PostgreSQL", order=1)
    return Lesson.objects.create(
        track=track,
        slug="vacuum",
        step=4,
        title="VACUUM and dead rows",
        mode=Lesson.Mode.SQL_SANDBOX,
        summary="Why UPDATE and DELETE leave dead row versions behind.",
        discussion_topics=[
            "When did autovacuum last surprise you in production?",
            "Have you ever needed VACUUM FULL?",
        ],
    )


@pytest.fixture
def no_limits(settings):
    """Posting limits out of the way, for tests about something else."""
    settings.DISCUSSION_POSTS_PER_MINUTE = 10_000
    settings.DISCUSSION_NEW_ACCOUNT_POSTS_PER_MINUTE = 10_000
    settings.DISCUSSION_NEW_ACCOUNT_POSTS_PER_DAY = 10_000
    settings.DISCUSSION_DUPLICATE_WINDOW_SECONDS = 0


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The learner/staff fixtures hash passwords; the real hasher costs ~0.3 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
