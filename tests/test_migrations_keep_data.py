"""No learner data is lost or renamed by the migrations made since the restructure (issue #19)
began: a database populated at the schema of that day is migrated to today's, and every row is
still there, attached to the same things."""

from __future__ import annotations

import datetime
from importlib import import_module

import pytest
from django.conf import settings
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
    sessions = {
        # A visitor who also has learning progress: their session holds both ids.
        "known": _session({"sandbox_learner": "known", "learner_id": visitor.pk}),
        # A visitor who only ran SQL: no Learner yet.
        "fresh": _session({"sandbox_learner": "fresh"}),
        # Ada on another device before logging in there; her account had the lesson already.
        "ada-device": _session({"sandbox_learner": "ada-device", "learner_id": learner.pk}),
    }
    keys = {
        "ada": f"user:{ada.pk}",
        "bob": f"user:{bob.pk}",  # no Learner row yet
        "known": "session:known",
        "fresh": "session:fresh",
        "gone": "session:gone",  # its session expired and was cleared
        "ada-device": "session:ada-device",
    }
    other = get("lessons", "Lesson").objects.create(
        track=track, slug="explain", step=2, title="EXPLAIN", mode="sql_sandbox"
    )
    for who, key in keys.items():
        for kept in (lesson, other):
            if (who, kept) != ("ada", other):  # her account has only the first lesson's
                get("sandbox", "Sandbox").objects.create(
                    name=f"qls_{who}_{kept.slug}", learner_key=key, lesson=kept, state="active"
                )
            get("sandbox", "PlanRecord").objects.create(
                learner_key=key, lesson=kept, sql="SELECT 1", plan={}, text="", total_ms=1
            )
        get("sandbox", "ExerciseAttempt").objects.create(
            learner_key=key, exercise=exercise, sql="SELECT 1", passed=True
        )
        get("sandbox", "RunCounter").objects.create(
            learner_key=key,
            minute=datetime.datetime(2026, 12, 6, 22, 0, tzinfo=datetime.UTC),
            count=1,
        )
    get("sandbox", "Sandbox").objects.create(name="qls_pool", fixture="shop.sql", state="ready")
    return {
        "ada": ada.pk,
        "bob": bob.pk,
        "lesson": lesson.pk,
        "learner": learner.pk,
        "visitor": visitor.pk,
        "sessions": sessions,
    }


def _session(data: dict) -> str:
    """A stored session (cached_db: in the database and the cache) holding ``data``."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store.update(data)
    store.create()
    return store.session_key


def _session_data(key: str) -> dict:
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key=key).load()


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

    ada = get_user_model().objects.get(pk=ids["ada"])
    learner = Learner.objects.get(user=ada)
    assert learner.pk == ids["learner"]
    # Ada's, the visitor's, and three made for sandbox keys (bob, "fresh", "gone").
    assert Learner.objects.count() == 5
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
    _check_sandbox_rows(ids)


def _check_sandbox_rows(ids: dict) -> None:
    """Each learner_key became its Learner (see sandbox/migrations/0003_learner_fk.py)."""
    from lessons.models import Learner
    from sandbox.models import ExerciseAttempt, PlanRecord, RunCounter, Sandbox

    assert Sandbox.objects.count() == 12
    assert PlanRecord.objects.count() == 12
    assert ExerciseAttempt.objects.filter(passed=True).count() == 6
    ada = Learner.objects.get(user_id=ids["ada"])
    bob = Learner.objects.get(user_id=ids["bob"])  # made for him
    fresh = Learner.objects.get(pk=_session_data(ids["sessions"]["fresh"])["learner_id"])
    assert fresh.user is None
    gone = Learner.objects.exclude(pk__in=[ada.pk, bob.pk, fresh.pk, ids["visitor"]]).get()
    assert gone.user is None
    owners = {
        "ada": ada.pk,
        "bob": bob.pk,
        "known": ids["visitor"],
        "fresh": fresh.pk,
        "gone": gone.pk,
    }
    for who, learner_id in owners.items():
        names = set(Sandbox.objects.filter(learner_id=learner_id).values_list("name", flat=True))
        if who == "ada":  # her own, and her other device's sandbox of the other lesson
            assert names == {"qls_ada_vacuum", "qls_ada-device_explain"}
        else:
            assert names == {f"qls_{who}_vacuum", f"qls_{who}_explain"}, who
    # Her other device's sandbox of the lesson her account has too: no owner, for the janitor.
    left = Sandbox.objects.get(name="qls_ada-device_vacuum")
    assert left.learner is None and left in Sandbox.objects.expired()
    assert Sandbox.objects.get(name="qls_pool").learner is None
    assert PlanRecord.objects.filter(learner=ada).count() == 4
    assert ExerciseAttempt.objects.filter(learner=ada).count() == 2
    assert {row.learner_id: row.count for row in RunCounter.objects.all()} == {
        ada.pk: 2,  # her two keys' runs in that minute, added up
        bob.pk: 1,
        ids["visitor"]: 1,
        fresh.pk: 1,
        gone.pk: 1,
    }
    for learner_id in owners.values():
        assert ExerciseAttempt.passed_by(learner_id, ExerciseAttempt.objects.first().exercise)


def test_the_learner_migration_goes_back_to_learner_keys():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    executor.loader.build_graph()
    ids = _populate(executor.loader.project_state(BEFORE).apps)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    back = [("sandbox", "0002_plans_and_attempts")]
    executor = MigrationExecutor(connection)
    executor.migrate(back)
    executor.loader.build_graph()
    Sandbox = executor.loader.project_state(back).apps.get_model("sandbox", "Sandbox")
    keys = dict(Sandbox.objects.values_list("name", "learner_key"))
    assert keys["qls_ada_vacuum"] == keys["qls_ada-device_explain"] == f"user:{ids['ada']}"
    assert keys["qls_bob_vacuum"] == f"user:{ids['bob']}"
    assert keys["qls_pool"] == keys["qls_ada-device_vacuum"] == ""
    # A visitor's key is a new token, which their session now holds.
    for who in ("known", "fresh"):
        token = _session_data(ids["sessions"][who])["sandbox_learner"]
        assert keys[f"qls_{who}_vacuum"] == keys[f"qls_{who}_explain"] == f"session:{token}"
    assert keys["qls_gone_vacuum"].startswith("session:")
    assert len(set(keys.values())) == 6  # ada, bob, known, fresh, gone, and the pool's ""

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
