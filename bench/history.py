"""A signed-in learner with a realistic history, for bench/pages.py --signed-in and profiling.

    uv run python bench/history.py [--learners N] [<track>/<slug>]
    uv run python bench/history.py --default-lesson

The first prints the lesson and one session key per learner (the `sessionid` cookie), the
second the lesson the benches use when none is named.

Made with the site's own models (Django set up like manage.py): each learner has answered the
lesson's quiz (some questions twice, after a wrong answer), marked its self-checks, reviewed
its flashcards, set their confidence and done several other lessons of the track; the lesson's
discussion has 30 threads with replies, some of them the learners' own, some upvoted by them.
Several learners, so that concurrent clients do not all write the same progress row. Running
it again replaces what it made before (every user it makes is named `bench-…`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OTHERS = [f"bench-other-{n}" for n in range(1, 6)]
THREADS = 30
LESSONS_DONE = 8


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    from config.infra import embedded

    embedded.prepare()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()


def default_lesson() -> str:
    """The published lesson with the longest page (read from the content, so the benches
    never name a lesson that no longer exists)."""
    from django.db.models.functions import Length

    from lessons.models import Lesson

    lesson = (
        Lesson.objects.published()
        .select_related("track")
        .order_by(Length("body_html").desc(), "track__order", "step")
        .first()
    )
    if lesson is None:
        raise SystemExit("no published lesson: run `manage.py content sync` first")
    return lesson.ref


def make_history(lesson_ref: str, learners: int = 1) -> list[str]:
    """Replace the bench users and their history; return each learner's session key."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from lessons.models import Lesson, Thread

    users = get_user_model()
    users.objects.filter(username__startswith="bench-").delete()
    lesson = Lesson.objects.by_ref(lesson_ref)
    mine = [
        users.objects.create_user(f"bench-learner-{n}", f"bench{n}@example.com", "bench-pw-42")
        for n in range(1, learners + 1)
    ]
    others = [users.objects.create_user(name, f"{name}@example.com") for name in OTHERS]
    for user in mine:
        _learning_history(user, lesson)
    Thread.objects.filter(lesson=lesson).delete()
    _discussion(lesson, [*mine, *others], mine)
    sessions = []
    for user in mine:
        client = Client()
        client.force_login(user)
        sessions.append(client.cookies["sessionid"].value)
    return sessions


def make_visitors(lesson_ref: str, count: int) -> list[str]:
    """Signed-out visitors with the same history as the learners (their Learner held by their
    session, as after their first answer); return each one's session key."""
    from importlib import import_module

    from django.conf import settings

    from lessons.models import LEARNER_SESSION_KEY, Learner, Lesson

    lesson = Lesson.objects.by_ref(lesson_ref)
    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = []
    for _ in range(count):
        learner = Learner.objects.create()
        _learning_history(None, lesson, learner)
        session = store()
        session[LEARNER_SESSION_KEY] = learner.pk
        session.create()
        keys.append(session.session_key)
    return keys


def _learning_history(user, lesson, learner=None) -> None:
    from lessons.models import (
        Confidence,
        Flashcard,
        FlashcardReview,
        Learner,
        Lesson,
        LessonProgress,
        QuizAttempt,
        QuizQuestion,
        SelfCheckItem,
        SelfCheckMark,
    )

    learner = learner or Learner.objects.for_user(user)
    # Several lessons done before this one, this one started with confidence set.
    steps = Lesson.objects.outline(lesson.track)
    for step in [step for step in steps if step.pk != lesson.pk][:LESSONS_DONE]:
        LessonProgress.objects.start(learner, step).mark_complete()
    LessonProgress.objects.start(learner, lesson).set_confidence(Confidence.MOSTLY)
    for n, question in enumerate(QuizQuestion.objects.active().filter(lesson=lesson)):
        choices = list(question.choices.all())
        right = [choice for choice in choices if choice.is_correct]
        wrong = [choice for choice in choices if not choice.is_correct][:1]
        if n % 3 == 0 and wrong:
            QuizAttempt.objects.record(learner, question, wrong)
        if n % 4 != 3:
            QuizAttempt.objects.record(learner, question, right)
    for n, item in enumerate(SelfCheckItem.objects.filter(lesson=lesson)):
        SelfCheckMark.mark(learner, item, got_it=n % 2 == 0)
    for n, card in enumerate(Flashcard.objects.filter(lesson=lesson)):
        FlashcardReview.answer(learner, card, knew_it=n % 3 != 0)


def _discussion(lesson, people: list, voters: list) -> None:
    from django.utils import timezone

    from lessons.models import Thread, Vote

    for n in range(THREADS):
        thread = Thread.objects.start(
            lesson=lesson,
            author=people[n % len(people)],
            title=f"Question {n + 1} about {lesson.title}",
            body=f"Why does `SELECT {n}` behave like this?\n\nI tried it twice.",
        )
        opening = thread.posts.get()
        for r in range(n % 4):
            author = people[(n + r + 1) % len(people)]
            parent = opening if r % 2 == 0 else thread.posts.order_by("-pk").first()
            reply = thread.add_reply(author=author, parent=parent, body=f"Reply {r + 1}: `EXPLAIN`")
            voter = voters[(n + r) % len(voters)]  # a learner upvotes one reply in a few
            if voter.pk != author.pk and (n + r) % 3 == 0:
                Vote.objects.create(post=reply, user=voter)
    Thread.objects.filter(lesson=lesson).update(last_activity_at=timezone.now())


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lesson", nargs="?", help="<track>/<slug> (default: the longest lesson)")
    parser.add_argument("--learners", type=int, default=1)
    parser.add_argument(
        "--visitors", type=int, default=0, help="also signed-out visitors (after a --)"
    )
    parser.add_argument("--default-lesson", action="store_true", help="print it and stop")
    args = parser.parse_args()
    setup_django()
    ref = args.lesson or default_lesson()
    if args.default_lesson:
        print(ref)
    else:
        members = make_history(ref, args.learners)
        visitors = make_visitors(ref, args.visitors) if args.visitors else []
        print(ref, *members, *(["--", *visitors] if visitors else []))


if __name__ == "__main__":
    main()
