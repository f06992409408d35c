"""A learner with a history of every kind the site keeps, for the account export and deletion
tests: progress, quiz answers, self-checks, flashcards, exercise attempts (SQL and Python),
saved plans, a sandbox on the real sandbox server, run counters, threads, posts, votes, flags,
notifications, a profile and a signed-in device."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client
from django.utils import timezone

from lessons.models import (
    AccountProfile,
    Exercise,
    Flag,
    Flashcard,
    FlashcardReview,
    Learner,
    Lesson,
    LessonProgress,
    Post,
    QuizAttempt,
    QuizChoice,
    QuizQuestion,
    SelfCheckItem,
    SelfCheckMark,
    Thread,
    Track,
)
from sandbox import connections, roles
from sandbox.models import ExerciseAttempt, PlanRecord, RunCounter, Sandbox, Share
from sandbox.tests.conftest import TEST_SETTINGS


@pytest.fixture
def sandbox_settings(settings, django_db_blocker):
    """The sandbox tests' settings (a "qlt" name prefix, short limits); what a test made on
    the sandbox server is dropped after it."""
    for name, value in TEST_SETTINGS.items():
        if name != "PASSWORD_HASHERS":  # users made before this must still log in
            setattr(settings, name, value)
    yield settings
    with django_db_blocker.unblock():
        connections.close_idle_connections()
        names = sorted(roles.existing_names(0))
        if names:
            roles.drop(0, names)


PASSWORDS = {"ada": "correct-horse-42", "bob": "battery-staple-42"}  # the conftest's users
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@dataclass
class History:
    lesson: Lesson
    lab_lesson: Lesson
    thread: Thread  # the learner's thread, answered by the other learner
    lonely_thread: Thread  # the learner's thread nobody answered
    their_thread: Thread  # the other learner's thread, where the learner replied
    answered_reply: Post  # the learner's reply that the other learner answered
    sandbox: Sandbox


@pytest.fixture
def course(db) -> tuple[Lesson, Lesson]:
    track = Track.objects.create(slug="sql", title="SQL", is_published=True)
    lesson = Lesson.objects.create(
        track=track,
        slug="indexes",
        step=1,
        title="Indexes",
        mode=Lesson.Mode.SQL_SANDBOX,
        fixture="shop.sql",
        is_published=True,
    )
    lab = Lesson.objects.create(
        track=track,
        slug="orm",
        step=2,
        title="ORM",
        mode=Lesson.Mode.DJANGO_LAB,
        is_published=True,
    )
    question = QuizQuestion.objects.create(
        lesson=lesson, key="which-index", prompt_html="<p>?</p>", explanation_html="<p>.</p>"
    )
    QuizChoice.objects.create(question=question, key="btree", text_html="B-tree", is_correct=True)
    QuizChoice.objects.create(question=question, key="hash", text_html="Hash")
    SelfCheckItem.objects.create(
        lesson=lesson, key="can-explain", question_html="<p>?</p>", answer_html="<p>.</p>"
    )
    Flashcard.objects.create(lesson=lesson, key="card-gin", front_html="GIN", back_html="…")
    Exercise.objects.create(lesson=lesson, key="count", prompt_html="<p>Count</p>", solution_sql="")
    Exercise.objects.create(lesson=lab, key="loop", prompt_html="<p>Loop</p>", solution_sql="")
    return lesson, lab


def give_history(user, other, course) -> History:
    """Every kind of record for `user`, with `other` answering and voting in the discussion."""
    lesson, lab = course
    learner = Learner.objects.for_user(user)
    progress = LessonProgress.objects.start(learner, lesson)
    progress.mark_complete()
    progress.set_confidence(3)
    question = lesson.quiz_questions.get()
    QuizAttempt.objects.record(learner, question, [question.choices.get(key="hash")])
    SelfCheckMark.mark(learner, lesson.self_checks.get(), True)
    FlashcardReview.answer(learner, lesson.flashcards.get(), False)

    key = learner.pk
    ExerciseAttempt.record(key, lesson.exercises.get(), "SELECT count(*) FROM items", True, [])
    ExerciseAttempt.record(key, lab.exercises.get(), "for b in Book.objects.all(): b", False, [])
    PlanRecord.keep(key, lesson, "SELECT 1", [{"Plan": {}}], "Result", 0.1)
    RunCounter.objects.create(learner_id=key, minute=timezone.now(), count=3)
    sandbox = Sandbox.objects.for_learner(key, lesson)
    Share.objects.create(
        owner=learner,
        lesson=lesson,
        kind=Share.Kind.RESULT,
        sql="SELECT 1",
        snapshot={"results": []},
        expires_at=Share.default_expiry(),
    )

    me = user.get_username()
    AccountProfile.objects.create(user=user, display_name=f"{me.title()} L.")
    laptop = Client(HTTP_USER_AGENT=FIREFOX)  # signed in on a laptop
    laptop.post("/accounts/login/", {"username": me, "password": PASSWORDS[me]})

    thread = Thread.objects.start(
        lesson=lesson, author=user, title=f"{me}: B-tree?", body=f"{me} asks"
    )
    opening = thread.posts.get()
    reply = thread.add_reply(author=other, parent=opening, body=f"{other} answers")
    thread.add_reply(author=user, parent=reply, body=f"{me} thanks")
    lonely = Thread.objects.start(
        lesson=lesson, author=user, title=f"{me}: anyone?", body=f"{me} alone"
    )
    theirs = Thread.objects.start(
        lesson=lesson, author=other, title=f"{other}'s question", body=f"{other} asks"
    )
    their_opening = theirs.posts.get()
    answered = theirs.add_reply(author=user, parent=their_opening, body=f"{me} replies")
    theirs.add_reply(author=other, parent=answered, body=f"{other} replies")
    theirs.add_reply(author=user, parent=their_opening, body=f"{me} again, unanswered")
    their_opening.toggle_vote(user)
    answered.toggle_vote(other)
    their_opening.flag(reporter=user, reason=Flag.Reason.OFF_TOPIC, note=f"{me}'s flag")
    return History(lesson, lab, thread, lonely, theirs, answered, sandbox)
