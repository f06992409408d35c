"""Learners and what they did, for the tests of the staff analytics pages.

`exercise_attempt` is the one place that says how an ExerciseAttempt names its learner."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from lessons.models import (
    Confidence,
    Exercise,
    Learner,
    Lesson,
    LessonProgress,
    QuizAttempt,
    QuizQuestion,
    SelfCheckItem,
    SelfCheckMark,
)
from sandbox.models import ExerciseAttempt

START = timezone.now() - timedelta(days=1)


def learners(count: int, prefix: str = "learner") -> list[Learner]:
    """`count` signed-up learners named prefix-1, prefix-2, …"""
    users = User.objects.bulk_create(
        User(username=f"{prefix}-{n}", email=f"{prefix}-{n}@example.com")
        for n in range(1, count + 1)
    )
    return Learner.objects.bulk_create(Learner(user=user) for user in users)


def exercise_attempt(learner: Learner, exercise: Exercise, minute: int, **fields):
    """One check (or with kind="solution", one look at the solution) at START + minute."""
    return ExerciseAttempt.objects.create(
        learner=learner,
        exercise=exercise,
        created=START + timedelta(minutes=minute),
        **fields,
    )


def answer(learner: Learner, question: QuizQuestion, keys: list[str], minute: int):
    """The learner answers `question` with the choices `keys` at START + minute."""
    choices = [choice for choice in question.choices.all() if choice.key in keys]
    attempt = QuizAttempt.objects.record(learner, question, choices)
    QuizAttempt.objects.filter(pk=attempt.pk).update(created_at=START + timedelta(minutes=minute))
    return attempt


def progress(learner: Learner, lesson: Lesson, *, done: bool = False, confidence=None) -> None:
    row = LessonProgress.objects.start(learner, lesson)
    if done:
        row.mark_complete()
    if confidence is not None:
        row.set_confidence(confidence)


def small_lesson(mode: str = Lesson.Mode.SQL_SANDBOX, slug: str = "joins") -> Lesson:
    """A lesson with one question (a right choice, two distractors), one exercise and one
    self-check item, made directly in the catalog (no content sync)."""
    from lessons.models import QuizChoice, Track

    track, _ = Track.objects.get_or_create(slug="pg", defaults={"title": "PostgreSQL"})
    lesson = Lesson.objects.create(track=track, slug=slug, step=1, title="Joins", mode=mode)
    question = QuizQuestion.objects.create(
        lesson=lesson, key="on-vs-where", prompt_html="<p>ON or WHERE?</p>", explanation_html=""
    )
    for position, (key, text, correct) in enumerate(
        [("a", "Removed by WHERE", True), ("b", "Kept with NULLs", False), ("c", "An error", False)]
    ):
        QuizChoice.objects.create(
            question=question, key=key, position=position, text_html=text, is_correct=correct
        )
    Exercise.objects.create(
        lesson=lesson, key="march", title="March orders", prompt_html="<p>…</p>", solution_sql="1"
    )
    SelfCheckItem.objects.create(
        lesson=lesson, key="explain", question_html="<p>Explain it</p>", answer_html=""
    )
    return lesson


WHERE_MISTAKES = [
    "SELECT c.id, c.name, count(o.id) AS march_orders FROM customers c LEFT JOIN orders o "
    "ON o.customer_id = c.id WHERE o.placed_on >= date '2026-03-01' GROUP BY c.id, c.name",
    "select c.id, c.name, count(o.id) as march_orders\nfrom customers c left join orders o\n"
    "  on o.customer_id = c.id\nwhere o.placed_on >= date '2026-03-02'\ngroup by c.id, c.name;",
    "SELECT c.id, c.name, count(o.id) AS march_orders FROM customers c LEFT JOIN orders o "
    "ON o.customer_id = c.id WHERE o.placed_on >= date '2026-02-28' GROUP BY c.id, c.name",
]
WHERE_FEEDBACK = ["Rows are missing: customers without a March order must appear with 0."]
COUNT_STAR = (
    "SELECT c.id, c.name, count(*) AS march_orders FROM customers c LEFT JOIN orders o "
    "ON o.customer_id = c.id AND o.placed_on >= date '2026-03-01' GROUP BY c.id, c.name"
)
COUNT_FEEDBACK = ["Customers without a March order show 1 instead of 0."]
SOLUTION = (
    "SELECT c.id, c.name, count(o.id) AS march_orders FROM customers c LEFT JOIN orders o "
    "ON o.customer_id = c.id AND o.placed_on >= date '2026-03-01' "
    "AND o.placed_on < date '2026-04-01' GROUP BY c.id, c.name"
)


def struggle(lesson: Lesson, people: list[Learner]) -> None:
    """Six learners' story in `lesson` (its question "on-vs-where", its first exercise):

    - all six opened it, three finished; confidence: 1 "Not yet", 2 "Only with my notes",
      2 "Mostly", 1 "Yes, easily";
    - the quiz: learners 1-2 right at once; 3-4 picked b then a; 5 picked c then b; 6 picked b:
      2 of 6 right at the first try, b picked in a wrong answer by 4, c by 1;
    - the exercise: learner 1 passes at once; learners 2-4 make the WHERE mistake (three other
      dates: one shape, 4 checks), then pass, learner 4 after seeing the solution; learners 5-6
      use count(*) (one shape, 2 checks); 6 looks at the solution and never passes.
    """
    assert len(people) == 6
    question = QuizQuestion.objects.get(lesson=lesson, key="on-vs-where")
    exercise = Exercise.objects.filter(lesson=lesson).order_by("position", "pk").first()
    levels = [Confidence.NOT_YET, Confidence.WITH_NOTES, Confidence.WITH_NOTES]
    levels += [Confidence.MOSTLY, Confidence.MOSTLY, Confidence.EASILY]
    for n, (person, level) in enumerate(zip(people, levels, strict=True)):
        progress(person, lesson, done=n < 3, confidence=level)
    right = ["a"]  # "removed by WHERE", in both the small lesson and content/'s joins
    for person in people[:2]:
        answer(person, question, right, 1)
    for person in people[2:4]:
        answer(person, question, ["b"], 1)
        answer(person, question, right, 2)
    answer(people[4], question, ["c"], 1)
    answer(people[4], question, ["b"], 2)
    answer(people[5], question, ["b"], 1)
    SelfCheckMark.mark(people[0], lesson.self_checks.first(), True)
    SelfCheckMark.mark(people[1], lesson.self_checks.first(), False)

    exercise_attempt(people[0], exercise, 1, sql=SOLUTION, passed=True)
    for n, person in enumerate(people[1:4]):
        exercise_attempt(person, exercise, 1, sql=WHERE_MISTAKES[n], feedback=WHERE_FEEDBACK)
    exercise_attempt(people[1], exercise, 2, sql=WHERE_MISTAKES[0], feedback=WHERE_FEEDBACK)
    exercise_attempt(people[1], exercise, 3, sql=SOLUTION, passed=True)
    exercise_attempt(people[2], exercise, 3, sql=SOLUTION, passed=True)
    exercise_attempt(people[3], exercise, 2, kind=ExerciseAttempt.Kind.SOLUTION)
    exercise_attempt(people[3], exercise, 3, sql=SOLUTION, passed=True)
    for person in people[4:]:
        exercise_attempt(person, exercise, 1, sql=COUNT_STAR, feedback=COUNT_FEEDBACK)
    exercise_attempt(people[5], exercise, 2, kind=ExerciseAttempt.Kind.SOLUTION)
