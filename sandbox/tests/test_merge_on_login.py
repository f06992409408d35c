"""A visitor's sandboxes, exercise attempts and kept plans follow them into their account at
sign-up or log-in, in the one merge (Learner.absorb, sandbox.models.records.move_learner)."""

from __future__ import annotations

import pytest
from django.test import Client

from lessons.models import Exercise, Learner, Lesson, LessonProgress
from sandbox import roles
from sandbox.models import ExerciseAttempt, PlanRecord, Sandbox
from sandbox.tests.conftest import api, run_json

pytestmark = pytest.mark.django_db

ANSWER = "SELECT name FROM items WHERE id = 1"


@pytest.fixture
def items_exercise(shop_lesson):
    return Exercise.objects.create(
        lesson=shop_lesson,
        key="first-item",
        prompt_html="<p>The first item's name.</p>",
        solution_sql=ANSWER,
    )


def login(client: Client) -> str:
    response = client.post(
        "/accounts/login/", {"username": "ada", "password": "correct-horse-42"}, follow=True
    )
    assert response.status_code == 200
    return response.content.decode()


def check(client: Client, exercise: Exercise, sql: str) -> dict:
    response = client.post(
        "/api/sandbox/check",
        {"lesson": exercise.lesson.ref, "exercise": exercise.key, "sql": sql},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def visit(client: Client, lesson: Lesson, exercise: Exercise) -> None:
    """A visitor runs SQL, passes an exercise and keeps a plan."""
    run_json(client, lesson, "CREATE TABLE drafts AS SELECT 'before login' AS note")
    assert check(client, exercise, ANSWER)["passed"] is True
    assert api(client, "explain", lesson, "SELECT * FROM drafts").json()["ok"] is True


def test_everything_a_visitor_did_in_the_sandbox_follows_them_into_a_new_account(
    client, shop_lesson, items_exercise
):
    visit(client, shop_lesson, items_exercise)
    visitor = Learner.objects.get()

    response = client.post(
        "/accounts/signup/",
        {"username": "linus", "password1": "a-long-pass-1", "password2": "a-long-pass-1"},
        follow=True,
    )

    assert "We saved your progress from this device" in response.content.decode()
    account = Learner.objects.get()
    assert account.user.username == "linus" and account.pk != visitor.pk
    assert Sandbox.objects.get(state="active").learner == account
    assert ExerciseAttempt.objects.get().learner == account
    assert ExerciseAttempt.passed_by(account.pk, items_exercise)
    assert PlanRecord.objects.get().learner == account
    assert LessonProgress.objects.get(learner=account).lesson == shop_lesson
    # Their next run is in the same sandbox, and the kept plan is theirs to compare.
    body = run_json(client, shop_lesson, "SELECT note FROM drafts")
    assert body["results"][0]["rows"] == [["before login"]]
    plan = PlanRecord.objects.get().pk
    compared = client.get(f"/sandbox/plans/compare?before={plan}&after={plan}")
    assert compared.status_code == 200 and compared.json()["ok"] is True


def test_the_accounts_own_sandbox_for_the_same_lesson_wins(
    client, learner, shop_lesson, empty_lesson, items_exercise
):
    account = Client()
    login(account)
    run_json(account, shop_lesson, "CREATE TABLE drafts AS SELECT 'in the account' AS note")
    theirs = Sandbox.objects.get()
    # Later, signed out on another device:
    visit(client, shop_lesson, items_exercise)
    run_json(client, empty_lesson, "SELECT 1")
    visitors = Sandbox.objects.exclude(pk=theirs.pk)
    left_behind = visitors.get(lesson=shop_lesson)
    moved = visitors.get(lesson=empty_lesson)

    assert "We saved your progress from this device" in login(client)

    mine = Learner.objects.get(user=learner)
    assert Learner.objects.count() == 1  # the visitor's row is gone
    body = run_json(client, shop_lesson, "SELECT note FROM drafts")
    assert body["results"][0]["rows"] == [["in the account"]]
    assert Sandbox.objects.get(pk=moved.pk).learner == mine
    assert Sandbox.objects.get(pk=theirs.pk).learner == mine
    # The visitor's own sandbox for that lesson has no owner now; the janitor drops it.
    assert Sandbox.objects.get(pk=left_behind.pk).learner is None
    assert Sandbox.objects.sweep().expired == 1
    assert not Sandbox.objects.filter(pk=left_behind.pk).exists()
    assert left_behind.name not in roles.existing_names(0)
    assert ExerciseAttempt.objects.get().learner == mine
    assert PlanRecord.objects.get().learner == mine


def test_a_visitor_who_only_used_the_sandbox_is_told_it_was_saved(client, learner, shop_lesson):
    run_json(client, shop_lesson, "SELECT 1")
    assert "We saved your progress from this device" in login(client)
    assert Sandbox.objects.get().learner.user == learner


def test_a_session_never_runs_in_another_learners_sandbox(client, learner, shop_lesson):
    run_json(client, shop_lesson, "SELECT 1")
    visitor = Learner.objects.get()
    account = Learner.objects.for_user(learner)
    # A session that claims the account's Learner id without being signed in as its user
    # gets a visitor Learner of its own, not the account's sandbox.
    other = Client()
    session = other.session
    session["learner_id"] = account.pk
    session.save()
    other.cookies["sessionid"] = session.session_key
    run_json(other, shop_lesson, "SELECT 1")
    assert Sandbox.objects.filter(learner=account).count() == 0
    owners = set(Sandbox.objects.values_list("learner_id", flat=True))
    assert len(owners) == 2 and visitor.pk in owners and account.pk not in owners
