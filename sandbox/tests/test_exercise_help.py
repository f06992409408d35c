# ruff: noqa: F811 (pytest fixtures imported from other test modules are arguments here)
"""Hints, then the solution (sandbox/exercise_help.py): the server's rules, for SQL and lab
exercises alike."""

from __future__ import annotations

import pytest

from lessons.models import Exercise, ExerciseOutcome, Learner, ReviewItem
from sandbox.models import ExerciseAttempt
from sandbox.tests.lab_support import (  # noqa: F401
    lab_check,
    lab_client,
    lab_lesson,
    lab_settings,
    lab_track,
    lab_worker,
)
from sandbox.tests.test_check import big_spenders, check, grading_lesson  # noqa: F401

HINTS = ["<em>first</em> hint", "second hint", "third hint"]


@pytest.fixture
def hinted(big_spenders):
    big_spenders.hints_html = HINTS
    big_spenders.save()
    return big_spenders


def help_of(client, exercise) -> dict:
    response = client.get(
        "/api/sandbox/exercise-help", {"lesson": exercise.lesson.ref, "exercise": exercise.key}
    )
    assert response.status_code == 200, response.content
    return response.json()["help"]


def solution(client, exercise, **extra):
    return client.post(
        "/api/sandbox/solution",
        {"lesson": exercise.lesson.ref, "exercise": exercise.key, **extra},
        content_type="application/json",
    )


def test_hints_unlock_one_per_failed_check_and_the_solution_after_three(client, hinted):
    assert help_of(client, hinted)["hints"] == []  # nothing before the first check
    refused = solution(client, hinted)
    assert refused.status_code == 403
    assert "after 3 failed checks: 3 more to go" in refused.json()["error"]
    assert "give_up" in refused.json()["error"]
    for failures in (1, 2):
        body = check(client, hinted, "SELECT 1")
        assert body["help"]["hints"] == HINTS[:failures]
        assert body["help"]["solution_available"] is False
        assert solution(client, hinted).status_code == 403
    body = check(client, hinted, "SELECT 2")
    assert body["help"]["hints"] == HINTS
    assert body["help"]["solution_available"] is True
    shown = solution(client, hinted)
    assert shown.status_code == 200
    assert "DISTINCT" in shown.json()["solution"]
    assert shown.json()["gave_up"] is False


def test_the_page_holds_no_hint_and_the_help_block_renders_only_unlocked_ones(client, hinted):
    check(client, hinted, "SELECT 1")
    html = client.get(
        "/api/sandbox/exercise-help",
        {"lesson": hinted.lesson.ref, "exercise": hinted.key},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "<em>first</em> hint" in html
    assert "second hint" not in html
    assert "Give up and show the solution" in html
    assert "2 more failed checks" in html


def test_giving_up_is_recorded_as_such_and_the_pass_is_marked_with_the_solution(
    client, learner, hinted
):
    client.force_login(learner)
    given = solution(client, hinted, give_up=True)
    assert given.status_code == 200 and given.json()["gave_up"] is True
    mine = ExerciseAttempt.objects.filter(learner__user=learner)
    kinds = list(mine.values_list("kind", flat=True))
    assert kinds == [ExerciseAttempt.Kind.GAVE_UP]
    body = check(client, hinted, hinted.solution_sql)
    assert body["passed"] is True  # reading the solution still lets the learner pass
    assert body["help"]["passed_with_solution"] is True
    outcome = ExerciseOutcome.objects.get(learner__user=learner, exercise=hinted)
    assert outcome.status == "passed with the solution"
    page = client.get("/progress/").content.decode()
    assert "passed with the solution" in page


def test_a_pass_on_your_own_is_not_marked_and_then_the_solution_is_offered(client, learner, hinted):
    client.force_login(learner)
    body = check(client, hinted, hinted.solution_sql)
    assert body["help"]["passed_with_solution"] is False
    assert body["help"]["solution_available"] is True
    assert solution(client, hinted).status_code == 200
    outcome = ExerciseOutcome.objects.get(learner__user=learner, exercise=hinted)
    assert outcome.status == "passed"  # reading it after passing changes nothing


def test_a_failed_check_puts_the_exercise_in_review(client, learner, hinted):
    client.force_login(learner)
    check(client, hinted, "SELECT 1")
    learner_row = Learner.objects.get(user=learner)
    item = ReviewItem.objects.get(learner=learner_row, kind=ReviewItem.Kind.EXERCISE)
    assert item.exercise == hinted


@pytest.fixture
def lab_exercise(lab_lesson):
    return Exercise.objects.create(
        lesson=lab_lesson,
        key="count-books",
        prompt_html="<p>How many books?</p>",
        solution_sql="Book.objects.count()",
        hints_html=["use count()", "on Book.objects"],
    )


def test_lab_exercises_follow_the_same_rules(lab_client, lab_exercise):
    assert solution(lab_client, lab_exercise).status_code == 403
    answer = lab_check(lab_client, lab_exercise, "0")
    assert answer["passed"] is False
    assert answer["help"]["hints"] == ["use count()"]
    lab_check(lab_client, lab_exercise, "1")
    assert solution(lab_client, lab_exercise).status_code == 403
    answer = lab_check(lab_client, lab_exercise, "2")
    assert answer["help"]["solution_available"] is True
    assert solution(lab_client, lab_exercise).json()["solution"] == "Book.objects.count()"


def test_staff_analytics_count_giving_up_as_seeing_the_solution(client, hinted):
    from sandbox.analytics import _attempt_counts

    solution(client, hinted, give_up="1")
    check(client, hinted, hinted.solution_sql)
    checks, learners, first_passed, passed, saw, saw_before = _attempt_counts([hinted.pk])[
        hinted.pk
    ]
    assert (passed, saw, saw_before) == (1, 1, 1)


def test_reading_the_help_as_a_new_visitor_starts_no_session(client, hinted):
    assert help_of(client, hinted)["checks_until_solution"] == 3
    assert "sessionid" not in client.cookies
