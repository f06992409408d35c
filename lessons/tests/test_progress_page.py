from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_it_shows_every_track_with_scores_and_confidence(client, course):
    client.post("/learn/sql/lesson-1/quiz/pick-one/", {"choice": "vacuum"})
    client.get("/learn/sql/lesson-2/")
    client.post("/learn/sql/lesson-1/quiz/pick-one/", {"choice": "select"})
    client.post("/learn/sql/lesson-1/quiz/pick-many/", {"choice": ["insert", "update"]})
    client.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    client.post("/learn/sql/lesson-1/confidence/", {"level": "4"})
    page = client.get("/progress/").content.decode()
    assert "SQL basics" in page
    assert "1/3 lessons done · 33%" in page
    assert "1/2 right" in page  # first tries: one wrong, one right
    assert "Yes, easily" in page
    assert "Started" in page and "Not started" in page
    assert "Kept on this device" in page
    assert 'href="/progress/export.json"' in page


def test_it_lists_lessons_to_review(client, course):
    client.post("/learn/sql/lesson-1/quiz/pick-one/", {"choice": "vacuum"})
    client.post("/learn/sql/lesson-1/quiz/pick-one/", {"choice": "select"})  # right, too late
    client.post("/learn/sql/lesson-2/confidence/", {"level": "1"})
    client.post("/learn/sql/lesson-3/confidence/", {"level": "4"})
    client.post("/learn/sql/lesson-3/quiz/pick-one/", {"choice": "select"})
    page = client.get("/progress/").content.decode()
    review = page[page.index("Lessons to review") : page.index("</section>")]
    assert "Lesson 1" in review and "1 question missed on the first try" in review
    assert "Lesson 2" in review and "“Not yet”" in review
    assert "Lesson 3" not in review


def test_it_works_for_someone_who_has_done_nothing(client, course):
    page = client.get("/progress/").content.decode()
    assert "0/3 lessons done · 0%" in page
    assert "Lessons to review" not in page


def test_it_shows_the_same_progress_on_every_device(client, learner, course):
    client.force_login(learner)
    client.post("/learn/sql/lesson-3/done/", {"answer": "1"})
    from django.test import Client

    laptop = Client()
    laptop.force_login(learner)
    assert "1/3 lessons done" in laptop.get("/progress/").content.decode()
