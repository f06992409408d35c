"""The lesson page with the learner's progress: header, ticks, the loop's state, query count."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from lessons.models import Learner, LessonProgress, QuizAttempt, QuizQuestion

pytestmark = pytest.mark.django_db


def learning_state(page: str) -> dict:
    match = re.search(r'<script id="learning-state" type="application/json">(.*?)</script>', page)
    return json.loads(match.group(1))


def test_it_starts_a_lesson_when_it_is_opened(client, learner, course):
    client.force_login(learner)
    client.get("/learn/sql/lesson-2/")
    progress = LessonProgress.objects.get()
    assert (progress.lesson, progress.status) == (course[1], "started")
    first_seen = progress.last_seen_at
    client.get("/learn/sql/lesson-2/")
    progress.refresh_from_db()
    assert progress.status == "started" and progress.last_seen_at > first_seen


def test_it_starts_a_new_visitors_lesson_with_a_beacon(client, course):
    # A new visitor's page is the same for everyone (cacheable) and writes nothing...
    page = client.get("/learn/sql/lesson-2/").content.decode()
    assert not Learner.objects.exists()
    assert 'hx-post="/learn/sql/lesson-2/opened/" hx-trigger="load"' in page
    # ...until its beacon records the visit; from then on the page does.
    assert client.post("/learn/sql/lesson-2/opened/").status_code == 204
    assert LessonProgress.objects.get().lesson == course[1]
    page = client.get("/learn/sql/lesson-3/").content.decode()
    assert "opened/" not in page
    assert LessonProgress.objects.filter(learner=Learner.objects.get()).count() == 2


def test_it_shows_real_progress_and_ticks(client, course):
    client.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    client.post("/learn/sql/lesson-3/done/", {"answer": "1"})
    page = client.get("/learn/sql/lesson-2/").content.decode()
    assert "Step 2/3" in page
    assert "67% through track" in page
    assert page.count('title="Done">✓') == 4  # two course, in the step list and the jump menu
    assert 'hx-trigger="progressChanged from:body"' in page
    assert "Mark lesson as done" in page
    assert "Not saved yet" in page


def test_it_shows_what_the_learner_did_on_return(client, course):
    client.post("/learn/sql/lesson-1/quiz/pick-one/", {"choice": "vacuum"})
    client.post("/learn/sql/lesson-1/quiz/pick-one/", {"choice": "select"})
    client.post("/learn/sql/lesson-1/self-check/what-is-a-row/", {"answer": "0"})
    client.post("/learn/sql/lesson-1/cards/card-mvcc/", {"answer": "0"})
    client.post("/learn/sql/lesson-1/confidence/", {"level": "3"})
    page = client.get("/learn/sql/lesson-1/").content.decode()
    assert "✓ Saved: “Mostly”" in page
    assert 'value="3" checked' in page
    state = learning_state(page)
    assert state["quiz"] == {"pick-one": {"attempts": 2, "correct": True}}
    assert state["selfChecks"] == {"what-is-a-row": False}
    assert state["cards"]["card-mvcc"]["due_on"]
    # Still no answers in the page.
    assert "Yes, SELECT reads rows." not in page and "One record of a table." not in page


def make_progress(client, course):
    for lesson in course[:2]:
        client.post(f"/learn/sql/{lesson.slug}/done/", {"answer": "1"})
        client.post(f"/learn/sql/{lesson.slug}/confidence/", {"level": "2"})
        for question in QuizQuestion.objects.filter(lesson=lesson):
            for choice in question.choices.all():
                client.post(
                    f"/learn/sql/{lesson.slug}/quiz/{question.key}/", {"choice": choice.key}
                )


def test_it_needs_the_same_queries_with_progress_shown(
    client,
    learner,
    course,
    django_assert_max_num_queries,
):
    client.force_login(learner)
    # Without the learning loop the page costs 6 for a signed-in learner (session, user,
    # lesson, outline, discussion threads, unread notifications); progress adds 2: one
    # statement records the visit and reads the track's progress, one UNION reads the quiz,
    # self-check and card state. The same 8 with no progress and with plenty.
    with django_assert_max_num_queries(8):
        client.get("/learn/sql/lesson-3/")
    make_progress(client, course)
    assert QuizAttempt.objects.count() == 10
    with django_assert_max_num_queries(8):
        page = client.get("/learn/sql/lesson-1/").content.decode()
    assert "67% through track" in page


def test_it_needs_6_queries_for_a_returning_visitor(
    client,
    course,
    django_assert_max_num_queries,
):
    # Session, lesson, outline, discussion threads, and the loop's 2.
    client.post("/learn/sql/lesson-3/opened/")
    make_progress(client, course)
    with django_assert_max_num_queries(6):
        page = client.get("/learn/sql/lesson-1/").content.decode()
    assert "67% through track" in page


def test_it_refreshes_the_header_on_its_own(client, course):
    client.post("/learn/sql/lesson-3/done/", {"answer": "1"})
    header = client.get("/learn/sql/lesson-3/progress/").content.decode()
    assert "Step 3/3" in header and "33% through track" in header
    assert "✓ This lesson is done" in header
    # The done card and the step menus' tick follow, for a lesson completed by other means
    # (passing its last exercise).
    assert 'id="lesson-done" hx-swap-oob="true"' in header and "✓ Lesson done." in header
    assert 'hx-swap-oob="outerHTML:.current-step-mark" title="Done"' in header


def test_it_never_sends_a_not_done_card_with_the_header(client, course):
    # A refresh already on its way when "Mark lesson as done" is clicked must not undo it.
    client.post("/learn/sql/lesson-3/opened/")
    header = client.get("/learn/sql/lesson-3/progress/").content.decode()
    assert "Step 3/3" in header and "lesson-done" not in header


def test_it_keeps_new_visitors_pages_cacheable(settings, client, course):
    from lessons import page_cache

    settings.LESSON_PAGE_CACHE_SECONDS = 60
    page_cache.clear()
    first = Client().get("/learn/sql/lesson-1/").content.decode()
    assert not Learner.objects.exists()
    # Someone else's progress never reaches the cached page.
    client.post("/learn/sql/lesson-1/opened/")
    client.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    assert "33% through track" in client.get("/learn/sql/lesson-1/").content.decode()
    newcomer = Client().get("/learn/sql/lesson-1/").content.decode()
    assert "0% through track" in newcomer and "opened/" in newcomer
    assert newcomer.count("✓") == first.count("✓")
    page_cache.clear()
