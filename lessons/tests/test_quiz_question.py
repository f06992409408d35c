from __future__ import annotations

import pytest

from lessons.models import LessonProgress, QuizAttempt

pytestmark = pytest.mark.django_db

URL = "/learn/sql/lesson-1/quiz/{}/"


def test_it_says_right_and_explains(client, course):
    response = client.post(URL.format("pick-one"), {"choice": "select"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    page = response.content.decode()
    assert "✓ Right." in page
    assert "SELECT is the query that returns rows." in page
    assert "Yes, SELECT reads rows." in page  # the chosen choice's feedback
    assert "VACUUM cleans up dead rows" in page  # why the others are wrong, too...
    assert "choice-wrong" not in page  # ...without marking them as chosen and wrong
    assert "progressChanged" in response["HX-Trigger"]


def test_it_says_wrong_without_giving_the_answer_away(client, course):
    response = client.post(URL.format("pick-one"), {"choice": "vacuum"})
    page = response.content.decode()
    assert "✗ Not quite." in page
    assert "VACUUM cleans up dead rows" in page
    assert "Yes, SELECT reads rows." not in page
    assert "choice-right" not in page
    assert "Try again" in page


def test_it_wants_every_right_answer_of_a_multi_answer_question(client, course):
    unanswered = client.get(URL.format("pick-many")).content.decode()
    assert "choose all that apply" in unanswered
    assert 'type="checkbox"' in unanswered

    half = client.post(URL.format("pick-many"), {"choice": ["insert"]}).content.decode()
    assert "A chosen answer is wrong, or a right one is missing." in half
    full = client.post(URL.format("pick-many"), {"choice": ["insert", "update"]})
    assert "✓ Right." in full.content.decode()


def test_it_keeps_every_attempt(client, course):
    client.post(URL.format("pick-one"), {"choice": "vacuum"})
    client.post(URL.format("pick-one"), {"choice": "select"})
    attempts = QuizAttempt.objects.order_by("created_at")
    assert [attempt.is_correct for attempt in attempts] == [False, True]
    assert [c.key for c in attempts[0].choices.all()] == ["vacuum"]
    assert attempts[0].learner == attempts[1].learner
    assert attempts[0].learner.user is None


def test_it_never_sends_answers_before_the_learner_answers(client, course):
    page = client.get(URL.format("pick-one")).content.decode()
    assert "Check answer" in page
    for secret in ("Yes, SELECT reads rows.", "SELECT is the query that returns rows.", "Right"):
        assert secret not in page
    body = course[0].body_html
    assert "Yes, SELECT reads rows." not in body and "returns rows" not in body


def test_it_asks_for_a_choice(client, course):
    response = client.post(URL.format("pick-one"), {})
    assert response.status_code == 400
    assert response.content.decode() == "Choose an answer first."
    assert not QuizAttempt.objects.exists()


def test_it_suggests_marking_the_lesson_done_once_every_question_is_right(client, course):
    first = client.post(URL.format("pick-one"), {"choice": "select"}).content.decode()
    assert "mark the lesson done" not in first
    last = client.post(URL.format("pick-many"), {"choice": ["insert", "update"]})
    assert "every question of this lesson answered right" in last.content.decode()
    # Passing the quiz does not complete the lesson: the learner does (see lessons/models.py).
    assert not LessonProgress.objects.completed().exists()
