"""Forged or foreign ids get a 4xx and change nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from lessons.models import (
    LEARNER_SESSION_KEY,
    FlashcardReview,
    Learner,
    Lesson,
    LessonProgress,
    QuizAttempt,
    QuizChoice,
    SelfCheckMark,
)

pytestmark = pytest.mark.django_db

QUIZ = "/learn/sql/lesson-1/quiz/pick-one/"


def nothing_stored() -> bool:
    return not (
        QuizAttempt.objects.exists()
        or LessonProgress.objects.exists()
        or SelfCheckMark.objects.exists()
        or FlashcardReview.objects.exists()
    )


@pytest.mark.parametrize(
    "choices",
    [
        ["no-such-choice"],  # forged
        ["insert"],  # a choice of another question
        ["select", "vacuum"],  # two answers to a one-answer question
        [""],
    ],
)
def test_it_refuses_forged_quiz_choices(client, course, choices):
    response = client.post(QUIZ, {"choice": choices})
    assert response.status_code == 400
    assert nothing_stored()


def test_it_refuses_a_choices_database_id(client, course):
    choice = QuizChoice.objects.get(question__lesson=course[0], key="select")
    assert client.post(QUIZ, {"choice": str(choice.pk)}).status_code == 400
    assert nothing_stored()


@pytest.mark.parametrize(
    "url",
    [
        "/learn/sql/no-such-lesson/quiz/pick-one/",
        "/learn/nope/lesson-1/quiz/pick-one/",
        "/learn/sql/lesson-1/quiz/no-such-question/",
        "/learn/sql/no-such-lesson/done/",
        "/learn/sql/no-such-lesson/confidence/",
        "/learn/sql/lesson-1/self-check/no-such-item/",
        "/learn/sql/lesson-1/cards/no-such-card/",
        "/learn/sql/no-such-lesson/progress/",
    ],
)
def test_it_answers_404_for_what_does_not_exist(client, course, url):
    data = {"choice": "select", "answer": "1", "level": "3"}
    response = client.post(url, data) if not url.endswith("progress/") else client.get(url)
    assert response.status_code == 404
    assert nothing_stored()


def test_it_answers_404_for_an_unpublished_lesson(client, course):
    Lesson.objects.filter(slug="lesson-1").update(is_published=False)
    assert client.post(QUIZ, {"choice": "select"}).status_code == 404
    assert client.post("/learn/sql/lesson-1/done/", {"answer": "1"}).status_code == 404
    assert nothing_stored()


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/learn/sql/lesson-1/done/", {"answer": "yes"}),
        ("/learn/sql/lesson-1/confidence/", {"level": "0"}),
        ("/learn/sql/lesson-1/cards/card-mvcc/", {}),
        ("/learn/sql/lesson-1/self-check/what-is-a-row/", {"answer": "2"}),
    ],
)
def test_it_refuses_bad_values(client, course, url, data):
    assert client.post(url, data).status_code == 400
    assert nothing_stored()


def test_it_refuses_get_where_only_post_changes_things(client, course):
    assert client.get("/learn/sql/lesson-1/done/?answer=1").status_code == 405
    assert nothing_stored()


def test_it_ignores_another_learners_ids(client, learner, other_learner, course):
    ada = Client()
    ada.force_login(learner)
    ada.post("/learn/sql/lesson-1/confidence/", {"level": "4"})
    ada_learner = Learner.objects.get(user=learner)

    client.force_login(other_learner)
    # A learner id in the request means nothing: answers go to whoever is signed in.
    client.post(
        "/learn/sql/lesson-1/confidence/",
        {"level": "1", "learner": ada_learner.pk, "learner_id": ada_learner.pk},
    )
    # Even a session that somehow names Ada's learner does not reach her data.
    session = client.session
    session[LEARNER_SESSION_KEY] = ada_learner.pk
    session.save()
    client.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    client.get("/learn/sql/lesson-2/")

    ada_rows = LessonProgress.objects.filter(learner=ada_learner)
    assert [(row.lesson.slug, row.confidence, row.status) for row in ada_rows] == [
        ("lesson-1", 4, "started")
    ]
    bob_row = LessonProgress.objects.get(learner__user=other_learner, lesson__slug="lesson-1")
    assert (bob_row.confidence, bob_row.status) == (1, "completed")
    assert "lesson-2" not in {row.lesson.slug for row in ada_rows}


def test_it_does_not_let_a_visitor_session_claim_an_accounts_learner(client, learner, course):
    account = Learner.objects.for_user(learner)
    session = client.session
    session[LEARNER_SESSION_KEY] = account.pk
    session.save()
    client.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    client.get("/learn/sql/lesson-2/")
    assert not LessonProgress.objects.filter(learner=account).exists()
    assert LessonProgress.objects.filter(learner__user__isnull=True).count() == 2
