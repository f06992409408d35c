from __future__ import annotations

import pytest

from lessons.models import LessonProgress

pytestmark = pytest.mark.django_db

URL = "/learn/sql/lesson-2/confidence/"


def test_it_saves_and_says_so(client, course):
    response = client.post(URL, {"level": "3"})
    page = response.content.decode()
    assert "✓ Saved just now: “Mostly”" in page
    assert 'value="3" checked' in page
    assert "progressChanged" in response["HX-Trigger"]
    progress = LessonProgress.objects.get()
    assert (progress.confidence, progress.lesson) == (3, course[1])


def test_it_keeps_the_latest_answer(client, course):
    client.post(URL, {"level": "1"})
    client.post(URL, {"level": "4"})
    assert LessonProgress.objects.get().confidence == 4


def test_it_refuses_a_level_that_does_not_exist(client, course):
    assert client.post(URL, {"level": "9"}).status_code == 400
    assert not LessonProgress.objects.exists()
