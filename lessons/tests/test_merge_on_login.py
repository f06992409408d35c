"""Signed-out progress joins the account at sign-up and log-in (lessons/signals.py)."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from lessons.models import (
    FlashcardReview,
    Learner,
    LessonProgress,
    QuizAttempt,
    SelfCheckMark,
)

pytestmark = pytest.mark.django_db


ADA = ("ada", "correct-horse-42")  # the `learner` fixture's credentials


def login(client: Client, credentials: tuple[str, str] = ADA):
    username, password = credentials
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, follow=True
    )


def test_it_moves_a_visitors_progress_into_a_new_account(client, course):
    client.post("/learn/sql/lesson-1/quiz/pick-one/", {"choice": "vacuum"})
    client.post("/learn/sql/lesson-1/quiz/pick-one/", {"choice": "select"})
    client.post("/learn/sql/lesson-1/confidence/", {"level": "2"})
    client.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    client.post("/learn/sql/lesson-1/self-check/what-is-a-row/", {"answer": "1"})
    client.post("/learn/sql/lesson-1/cards/card-mvcc/", {"answer": "0"})

    response = client.post(
        "/accounts/signup/",
        {
            "username": "linus",
            "password1": "a-long-passphrase-1",
            "password2": "a-long-passphrase-1",
        },
        follow=True,
    )
    assert "We saved your progress from this device" in response.content.decode()
    learner = Learner.objects.get()
    assert learner.user.username == "linus"
    assert QuizAttempt.objects.filter(learner=learner).count() == 2
    progress = LessonProgress.objects.get(learner=learner)
    assert progress.is_completed and progress.confidence == 2
    assert SelfCheckMark.objects.get().learner == learner
    assert FlashcardReview.objects.get().learner == learner
    # The message is said once.
    assert "We saved your progress" not in client.get("/progress/").content.decode()


def test_it_resolves_conflicts_in_the_learners_favour(client, learner, course):
    account = Client()
    login(account)
    account.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    account.post("/learn/sql/lesson-2/confidence/", {"level": "1"})
    account.post("/learn/sql/lesson-1/quiz/pick-one/", {"choice": "select"})
    account.post("/learn/sql/lesson-1/cards/card-mvcc/", {"answer": "0"})
    # Later, signed out on another device:
    client.post("/learn/sql/lesson-1/done/", {"answer": "0"})  # only started here
    client.post("/learn/sql/lesson-2/done/", {"answer": "1"})
    client.post("/learn/sql/lesson-2/confidence/", {"level": "4"})
    client.post("/learn/sql/lesson-1/quiz/pick-one/", {"choice": "vacuum"})
    client.post("/learn/sql/lesson-1/cards/card-mvcc/", {"answer": "1"})

    response = login(client)
    assert "We saved your progress from this device" in response.content.decode()
    mine = Learner.objects.get()
    rows = {p.lesson.slug: p for p in LessonProgress.objects.filter(learner=mine)}
    assert rows["lesson-1"].is_completed  # completed beats started
    assert rows["lesson-2"].is_completed
    assert rows["lesson-2"].confidence == 4  # the latest answer wins
    assert QuizAttempt.objects.filter(learner=mine).count() == 2  # all attempts kept
    assert FlashcardReview.objects.get().knew_it is True  # the latest review wins
    # The other browser sees the same.
    page = account.get("/progress/").content.decode()
    assert "2/3 lessons done" in page


def test_it_keeps_an_earlier_confidence_when_the_account_has_a_later_one(
    client,
    learner,
    course,
):
    client.post("/learn/sql/lesson-1/confidence/", {"level": "4"})
    account = Learner.objects.for_user(learner)
    progress = LessonProgress.objects.start(account, course[0])
    progress.set_confidence(1)
    LessonProgress.objects.filter(learner__user__isnull=True).update(
        confidence_at=timezone.now() - datetime.timedelta(hours=1)
    )
    login(client)
    assert LessonProgress.objects.get().confidence == 1


def test_it_says_nothing_when_there_was_nothing_to_move(client, learner, course):
    response = login(client)
    assert "We saved your progress" not in response.content.decode()
    assert Learner.objects.get().user == learner


def test_it_never_merges_into_another_account(client, learner, other_learner, course):
    login(client)
    client.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    client.post("/accounts/logout/")
    login(client, ("bob", "battery-staple-42"))
    assert not LessonProgress.objects.filter(learner__user=other_learner).exists()
    assert LessonProgress.objects.get().learner.user == learner
