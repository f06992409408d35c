"""No learner data is lost or renamed by the migrations made since the restructure (issue #19)
began: a database populated at the schema of that day is migrated to today's, and every row is
still there, attached to the same things."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

# The schema on the day the restructure began (commit 69b4691).
BEFORE = [
    ("config", "0001_initial"),
    ("lessons", "0005_learning_loop"),
    ("sandbox", "0002_plans_and_attempts"),
]


def _populate(apps) -> dict[str, int]:
    """One of everything a learner leaves behind, written with the models of that day."""
    User = apps.get_model("auth", "User")
    get = apps.get_model
    ada = User.objects.create(username="ada", email="ada@example.com", password="x")
    bob = User.objects.create(username="bob", email="bob@example.com", password="x")
    track = get("lessons", "Track").objects.create(slug="postgresql", title="PostgreSQL")
    lesson = get("lessons", "Lesson").objects.create(
        track=track, slug="vacuum", step=1, title="VACUUM", mode="sql_sandbox"
    )
    question = get("lessons", "QuizQuestion").objects.create(
        lesson=lesson, key="q1", prompt_html="?", explanation_html="!"
    )
    choice = get("lessons", "QuizChoice").objects.create(question=question, key="a", text_html="A")
    card = get("lessons", "Flashcard").objects.create(
        lesson=lesson, key="c1", front_html="f", back_html="b"
    )
    item = get("lessons", "SelfCheckItem").objects.create(
        lesson=lesson, key="s1", question_html="q", answer_html="a"
    )
    exercise = get("lessons", "Exercise").objects.create(
        lesson=lesson, key="e1", prompt_html="p", solution_sql="SELECT 1"
    )
    learner = get("lessons", "Learner").objects.create(user=ada)
    visitor = get("lessons", "Learner").objects.create()
    get("lessons", "LessonProgress").objects.create(
        learner=learner, lesson=lesson, status="completed", confidence=3
    )
    get("lessons", "LessonProgress").objects.create(learner=visitor, lesson=lesson)
    attempt = get("lessons", "QuizAttempt").objects.create(
        learner=learner, question=question, is_correct=True
    )
    attempt.choices.add(choice)
    get("lessons", "SelfCheckMark").objects.create(learner=learner, item=item, got_it=True)
    get("lessons", "FlashcardReview").objects.create(
        learner=learner, card=card, knew_it=False, stage=1, due_on=datetime.date(2026, 12, 7)
    )
    thread = get("lessons", "Thread").objects.create(lesson=lesson, author=ada, title="Why?")
    opening = get("lessons", "Post").objects.create(
        thread=thread, author=ada, body="Why", body_html="<p>Why</p>"
    )
    reply = get("lessons", "Post").objects.create(
        thread=thread, author=bob, parent=opening, body="Because", body_html="<p>Because</p>"
    )
    get("lessons", "Vote").objects.create(post=reply, user=ada)
    get("lessons", "Flag").objects.create(post=reply, reporter=ada, reason="spam")
    get("lessons", "Notification").objects.create(recipient=ada, post=reply)
    get("sandbox", "Sandbox").objects.create(
        name="qls_migration_test", learner_key=f"user:{ada.pk}", lesson=lesson, state="active"
    )
    get("sandbox", "PlanRecord").objects.create(
        learner_key=f"user:{ada.pk}", lesson=lesson, sql="SELECT 1", plan={}, text="", total_ms=1
    )
    get("sandbox", "ExerciseAttempt").objects.create(
        learner_key=f"user:{ada.pk}", exercise=exercise, sql="SELECT 1", passed=True
    )
    return {"ada": ada.pk, "bob": bob.pk, "lesson": lesson.pk, "learner": learner.pk}


def test_every_row_survives_the_migrations_since_the_restructure_began():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    executor.loader.build_graph()
    ids = _populate(executor.loader.project_state(BEFORE).apps)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    from django.contrib.auth import get_user_model

    from lessons.models import (
        Flag,
        FlashcardReview,
        Learner,
        LessonProgress,
        Notification,
        Post,
        QuizAttempt,
        SelfCheckMark,
        Thread,
        Vote,
    )
    from sandbox.models import ExerciseAttempt, PlanRecord, Sandbox

    ada = get_user_model().objects.get(pk=ids["ada"])
    learner = Learner.objects.get(user=ada)
    assert learner.pk == ids["learner"]
    assert Learner.objects.count() == 2
    progress = LessonProgress.objects.get(learner=learner)
    assert (progress.lesson_id, progress.status, progress.confidence) == (
        ids["lesson"],
        "completed",
        3,
    )
    assert LessonProgress.objects.count() == 2
    assert QuizAttempt.objects.get(learner=learner).choices.count() == 1
    assert SelfCheckMark.objects.get(learner=learner).got_it is True
    review = FlashcardReview.objects.get(learner=learner)
    assert (review.stage, review.due_on) == (1, datetime.date(2026, 12, 7))
    thread = Thread.objects.get(author=ada)
    assert [post.body for post in Post.objects.filter(thread=thread).order_by("pk")] == [
        "Why",
        "Because",
    ]
    assert Vote.objects.filter(user=ada).count() == 1
    assert Flag.objects.filter(reporter=ada).count() == 1
    assert Notification.objects.filter(recipient=ada).count() == 1
    assert Sandbox.objects.filter(lesson_id=ids["lesson"]).count() == 1
    assert PlanRecord.objects.filter(lesson_id=ids["lesson"]).count() == 1
    assert ExerciseAttempt.objects.filter(passed=True).count() == 1
