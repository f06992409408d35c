from __future__ import annotations

import pytest

from lessons.models import LessonProgress

pytestmark = pytest.mark.django_db


def test_it_marks_a_lesson_done_and_updates_the_header(client, course):
    response = client.post("/learn/sql/lesson-2/done/", {"answer": "1"})
    assert "✓ Lesson done." in response.content.decode()
    assert "progressChanged" in response["HX-Trigger"]
    header = client.get("/learn/sql/lesson-2/progress/").content.decode()
    assert "Step 2/3" in header
    assert "33% through track" in header


def test_it_keeps_the_first_completion_time(client, course):
    client.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    first = LessonProgress.objects.get().completed_at
    client.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    assert LessonProgress.objects.get().completed_at == first


def test_it_can_be_undone(client, course):
    client.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    response = client.post("/learn/sql/lesson-1/done/", {"answer": "0"})
    assert "Mark lesson as done" in response.content.decode()
    progress = LessonProgress.objects.get()
    assert (progress.status, progress.completed_at) == ("started", None)
