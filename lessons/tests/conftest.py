from __future__ import annotations

import pytest
from django.conf import settings

from lessons.models import Lesson, Track
from lessons.sync import sync_content


@pytest.fixture
def starter_content(db) -> None:
    """content/ as published by `manage.py content sync`."""
    report = sync_content(settings.CONTENT_DIR)
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
