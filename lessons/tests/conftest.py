from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from lessons import page_cache
from lessons.models import Lesson, Track
from lessons.sync import sync_content

# A small, stable track for the pipeline's and pages' tests, so that editing the real lessons
# in content/ never breaks them. The real content has its own tests (test_content.py).
SAMPLE_CONTENT = Path(__file__).resolve().parent / "sample_content"


@pytest.fixture(autouse=True)
def sample_content_dir(settings):
    settings.CONTENT_DIR = SAMPLE_CONTENT


@pytest.fixture(autouse=True)
def no_page_cache(settings):
    """Pages render fresh in tests; test_page_cache.py turns the cache on where it is tested."""
    settings.LESSON_PAGE_CACHE_SECONDS = 0
    page_cache.clear()


@pytest.fixture
def starter_content(db) -> None:
    """The sample track as published by `manage.py content sync`."""
    # Published without the sandbox checks (test_sync.py runs them on this content).
    report = sync_content(settings.CONTENT_DIR, run_checks=False)
    assert report.errors == []


@pytest.fixture
def long_track(db) -> Track:
    """A track of 40 published lessons, to show page costs do not grow with the track."""
    track = Track.objects.create(slug="long", title="A long track", summary="Many steps.")
    Lesson.objects.bulk_create(
        Lesson(
            track=track,
            slug=f"lesson-{n}",
            step=n,
            title=f"Lesson {n}",
            summary=f"Summary {n}",
            body_html=f"<p>Body of lesson {n}</p>",
            toc=[{"id": "a", "title": "A", "level": 2}],
            discussion_topics=["Say hello"],
        )
        for n in range(1, 41)
    )
    return track


# -- Learning loop ----------------------------------------------------------------------------

LOOP_CONTENT = Path(__file__).parent / "loop_content"


@pytest.fixture
def course(db) -> list[Lesson]:
    """The three lessons of the "sql" track in loop_content/, published by the real pipeline:
    each has a one-answer and a many-answer question, a self-check item and two flashcards."""
    report = sync_content(LOOP_CONTENT)
    assert report.errors == []
    return list(Lesson.objects.published().filter(track__slug="sql").order_by("step"))


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
