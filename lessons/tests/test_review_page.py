"""Reviews scheduled by FSRS (lessons/models/reviews.py) and the review page, /review/."""

from __future__ import annotations

import datetime
import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.utils import timezone

from lessons.models import (
    Confidence,
    Flashcard,
    FlashcardReview,
    Learner,
    Lesson,
    ReviewEvent,
    ReviewItem,
)

pytestmark = pytest.mark.django_db

CARD = "/learn/sql/lesson-1/cards/card-mvcc/"
QUIZ = "/learn/sql/lesson-1/quiz/pick-one/"


def wait_until_due(item: ReviewItem) -> None:
    """Move time: shift the item's schedule back so that it is due now."""
    shift = item.due - timezone.now()
    ReviewItem.objects.filter(pk=item.pk).update(
        due=item.due - shift, last_review=item.last_review - shift
    )


def new_item(learner: Learner, lesson: Lesson) -> ReviewItem:
    return ReviewItem.objects.create(learner=learner, kind=ReviewItem.Kind.LESSON, lesson=lesson)


def test_again_is_due_sooner_than_easy(course):
    learner = Learner.objects.create()
    forgot, easy = new_item(learner, course[0]), new_item(learner, course[1])
    forgot.grade(1)
    easy.grade(4)
    assert forgot.due < easy.due
    assert forgot.due_on == timezone.localdate() + datetime.timedelta(days=1)


def test_intervals_grow_with_successful_reviews(course):
    item = new_item(Learner.objects.create(), course[0])
    at = timezone.now()
    intervals = []
    for _ in range(4):
        item.grade(3, at=at)
        intervals.append((item.due - at).days)
        at = item.due
    assert intervals == sorted(intervals) and len(set(intervals)) == 4, intervals
    lapse_at = item.due
    item.grade(1, at=lapse_at)  # a lapse brings it back much sooner
    assert (item.due - lapse_at).days < intervals[-1] / 4


def test_a_missed_quiz_question_is_on_the_review_page_the_next_day(client, course):
    client.post(QUIZ, {"choice": "vacuum"})
    item = ReviewItem.objects.get(kind=ReviewItem.Kind.QUIZ)
    assert item.due_on == timezone.localdate() + datetime.timedelta(days=1)
    today = client.get("/review/").content.decode()
    assert "Nothing to review today" in today
    assert "The next review is due on" in today
    wait_until_due(item)
    page = client.get("/review/").content.decode()
    assert "1 item to review today" in page
    assert "Which keyword reads rows?" in page and "Answer it again in the lesson" in page
    graded = client.post(f"/review/{item.pk}/", {"rating": "4"}, HTTP_HX_REQUEST="true")
    assert "It comes back on" in graded.content.decode()
    item.refresh_from_db()
    assert item.due_on > timezone.localdate() + datetime.timedelta(days=1)


def test_a_right_answer_puts_nothing_in_review(client, course):
    client.post(QUIZ, {"choice": "select"})
    assert not ReviewItem.objects.exists()


def test_confidence_is_the_lessons_first_rating(client, course):
    client.post("/learn/sql/lesson-1/confidence/", {"level": Confidence.NOT_YET})
    client.post("/learn/sql/lesson-2/confidence/", {"level": Confidence.EASILY})
    not_yet = ReviewItem.objects.get(lesson=course[0])
    easily = ReviewItem.objects.get(lesson=course[1])
    assert not_yet.stability < easily.stability
    assert not_yet.due < easily.due


def test_flashcards_follow_the_item_and_grading_moves_the_card(client, course):
    client.post(CARD, {"answer": "0"})
    item = ReviewItem.objects.get(kind=ReviewItem.Kind.FLASHCARD)
    wait_until_due(item)
    page = client.get("/review/").content.decode()
    assert "Multi-version concurrency control." in page
    client.post(f"/review/{item.pk}/", {"rating": "3"})
    item.refresh_from_db()
    assert FlashcardReview.objects.get().due_on == item.due_on
    assert ReviewEvent.objects.filter(item=item).count() == 2


def test_grading_refuses_a_bad_rating_and_someone_elses_item(client, course):
    client.post(CARD, {"answer": "0"})
    item = ReviewItem.objects.get()
    assert client.post(f"/review/{item.pk}/", {"rating": "9"}).status_code == 400
    other = type(client)()
    assert other.post(f"/review/{item.pk}/", {"rating": "3"}).status_code == 404


def test_it_says_when_nothing_is_due(client, course):
    page = client.get("/review/").content.decode()
    assert "Nothing due today" in page
    assert "Nothing in review yet" in page


def test_a_visitors_review_items_move_into_the_account(client, course):
    client.post(QUIZ, {"choice": "vacuum"})
    client.post(CARD, {"answer": "0"})
    visitor = Learner.objects.get(user__isnull=True)
    user = User.objects.create_user("ada", password="pw-for-tests-1")
    account = Learner.objects.for_user(user)
    card = Flashcard.objects.get(key="card-mvcc", lesson=course[0])
    older = ReviewItem.objects.create(
        learner=account,
        kind=ReviewItem.Kind.FLASHCARD,
        lesson=course[0],
        card=card,
        created_at=timezone.now() - datetime.timedelta(days=9),
    )
    assert account.absorb(visitor.pk) is True
    kinds = sorted(ReviewItem.objects.filter(learner=account).values_list("kind", flat=True))
    assert kinds == ["card", "quiz"]
    assert not ReviewItem.objects.filter(pk=older.pk).exists()  # the visitor's newer one won
    assert ReviewEvent.objects.filter(learner=account).count() == 2
    assert not Learner.objects.filter(pk=visitor.pk).exists()


def test_the_old_review_pile_is_carried_over(course):
    """The data migration: each card in the old ladder's pile becomes an FSRS item, due on the
    same day, with the ladder step's interval as its stability."""
    learner = Learner.objects.create()
    cards = list(Flashcard.objects.filter(lesson=course[0]).order_by("pk"))
    due = timezone.localdate() + datetime.timedelta(days=5)
    FlashcardReview.objects.create(
        learner=learner, card=cards[0], knew_it=True, stage=2, due_on=due
    )
    FlashcardReview.objects.create(learner=learner, card=cards[1], knew_it=True, due_on=None)
    migration = importlib.import_module("lessons.migrations.0009_learning_reviews_certificates")
    migration.carry_over_flashcard_reviews(apps, None)
    item = ReviewItem.objects.get()
    assert (item.card, item.kind, item.learner) == (cards[0], "card", learner)
    assert item.due_on == due
    assert item.stability == 7.0  # the third step of 1, 3, 7, 21 days
    item.grade(3)  # and FSRS takes it from there
    assert item.due_on > due


def test_a_visitors_exercise_outcomes_move_into_the_account(course):
    from lessons.models import Exercise, ExerciseOutcome

    exercise = Exercise.objects.create(
        lesson=course[0], key="ex", prompt_html="<p>?</p>", solution_sql="SELECT 1"
    )
    visitor = Learner.objects.create()
    account = Learner.objects.for_user(User.objects.create_user("bo", password="pw-tests-1"))
    ExerciseOutcome.note_check(visitor, exercise, passed=False, with_solution=False)
    ExerciseOutcome.note_check(visitor, exercise, passed=True, with_solution=True)
    ExerciseOutcome.note_check(account, exercise, passed=False, with_solution=False)
    account.absorb(visitor.pk)
    outcome = ExerciseOutcome.objects.get()
    assert (outcome.learner, outcome.failed_checks) == (account, 2)
    assert outcome.status == "passed with the solution"
    assert ReviewItem.objects.get().learner == account
