"""The track, progress, review and discussion pages of a signed-in learner cost the same number
of queries whatever the learner has done and however long the discussion is."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lessons.models import (
    Flashcard,
    FlashcardReview,
    Learner,
    LessonProgress,
    QuizAttempt,
    QuizQuestion,
    ReviewItem,
)
from lessons.tests.discussion_helpers import opening, signed_in, start_thread

pytestmark = pytest.mark.django_db

PAGES = [
    "/learn/long/",
    "/learn/sql/",
    "/progress/",
    "/review/",
    "/learn/sql/lesson-1/discussion/",
]


def _queries(client: Client) -> dict[str, int]:
    counts = {}
    for url in PAGES:
        with CaptureQueriesContext(connection) as context:
            response = client.get(url)
        assert response.status_code == 200, url
        counts[url] = len(context.captured_queries)
    return counts


def _a_long_history(learner, other_learner, long_track, course) -> None:
    """36 lessons done, every quiz answered (wrong first), every card in review, confidence
    set low, and a discussion of 40 threads with 500 replies, some of them the learner's."""
    row = Learner.objects.for_user(learner)
    for lesson in [*long_track.lessons.order_by("step")[:33], *course]:
        LessonProgress.objects.start(row, lesson).mark_complete()
    LessonProgress.objects.filter(learner=row).update(confidence=1)
    for question in QuizQuestion.objects.filter(lesson__in=course):
        choices = list(question.choices.all())
        QuizAttempt.objects.record(row, question, [c for c in choices if not c.is_correct][:1])
        QuizAttempt.objects.record(row, question, [c for c in choices if c.is_correct])
    for card in Flashcard.objects.filter(lesson__in=course):
        FlashcardReview.answer(row, card, knew_it=False)
    for n in range(40):
        thread = start_thread(course[0], [learner, other_learner][n % 2], title=f"Thread {n}")
        for r in range(12):
            author = [other_learner, learner][r % 2]
            thread.add_reply(author=author, parent=opening(thread), body=f"Reply {n}.{r}")


def test_it_costs_the_same_queries_with_a_long_history(
    learner, other_learner, course, long_track, no_limits
):
    # `course` first: its sync would unpublish a track made before it.
    client = signed_in(learner)
    # A little of everything first: queries about nothing at all are skipped by Django.
    client.post("/learn/sql/lesson-1/quiz/pick-one/", {"choice": "vacuum"})
    client.post("/learn/sql/lesson-1/cards/card-select/", {"answer": "0"})
    client.post("/learn/sql/lesson-1/confidence/", {"level": "1"})
    client.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    start_thread(course[0], other_learner)
    few = _queries(client)
    _a_long_history(learner, other_learner, long_track, course)
    many = _queries(client)
    assert LessonProgress.objects.filter(learner__user=learner, status="completed").count() == 36
    assert few == many
    assert "Thread 39" in client.get("/learn/sql/lesson-1/discussion/").content.decode()
    # Everything that came back (missed questions, cards, lessons by confidence) due today.
    items = ReviewItem.objects.filter(learner__user=learner)
    items.update(due=timezone.now())
    due = items.visible().due_today().count()
    assert due >= 6
    assert client.get("/review/").content.decode().count('class="loop-card review-item"') == due
