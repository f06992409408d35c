"""Graded exercises on the staff analytics pages (lessons/analytics.py): attempts, first-try
pass rate, how many looked at the solution before passing, and the most common failing
answers, grouped by shape.

SQL answers are grouped by pglast's `fingerprint()` (the real PostgreSQL parser: the same
query with other constants, spacing or case is one shape); an answer PostgreSQL cannot parse
is grouped by its text with spacing and case normalised. ORM lab answers (Python) are grouped
by their code as Python's own parser prints it back (comments, blank lines, spacing and quote
style do not count; constants do).

Learners are counted through `learner` only, so what names a learner on ExerciseAttempt can
change in one place. Registered from SandboxConfig.ready().
"""

from __future__ import annotations

import ast
import functools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pglast
from django.db import connection
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from lessons.analytics import Measure, share
from lessons.models import Exercise, Lesson
from sandbox.models import ExerciseAttempt

# What tells one learner's attempts from another's: the attempt's Learner.
LEARNER_FIELD = "learner"

# Failing answers read per exercise, the latest first: enough to see the common mistakes,
# bounded so that an exercise with years of attempts does not slow the page down.
FAILING_ANSWERS_READ = 2000
# Failing answer shapes shown (and exported) per exercise.
FAILING_SHAPES_SHOWN = 5


def _learner_column() -> str:
    return ExerciseAttempt._meta.get_field(LEARNER_FIELD).column


# -- Answer shapes --------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def sql_shape(sql: str) -> str:
    """The shape of an SQL answer: its fingerprint, or its normalised text when PostgreSQL
    cannot parse it."""
    try:
        return "fp:" + pglast.fingerprint(sql)
    except pglast.parser.ParseError:
        return "text:" + _normalised_text(sql).lower()


@functools.lru_cache(maxsize=4096)
def python_shape(code: str) -> str:
    """The shape of an ORM lab answer: the code as Python prints it back after parsing it,
    or its normalised text when it does not parse."""
    try:
        return "py:" + ast.unparse(ast.parse(code))
    except (SyntaxError, ValueError, RecursionError):
        return "text:" + _normalised_text(code)


def _normalised_text(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().rstrip(";").strip()


# -- Reports --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FailingAnswer:
    """Failing answers of one shape: how often, by how many learners, and what they were told."""

    answer: str  # the most common text of this shape
    attempts: int
    learners: int
    feedback: list[str]  # the feedback most of them got


@dataclass(frozen=True)
class ExerciseReport:
    key: str
    title: str
    attempts: int  # checked answers
    learners: int  # learners who checked at least one answer
    first_try_passed: int
    passed: int
    saw_solution: int
    solution_before_pass: int
    failing: list[FailingAnswer] = field(default_factory=list)
    failing_total: int = 0  # failing answers read (see FAILING_ANSWERS_READ)

    @property
    def first_try_percent(self) -> int | None:
        return share(self.first_try_passed, self.learners)

    @property
    def solution_first_percent(self) -> int | None:
        """Of the learners who passed, the share who had seen the solution first."""
        return share(self.solution_before_pass, self.passed)


@dataclass(frozen=True)
class ExercisesReport:
    """One lesson's graded exercises."""

    is_lab: bool
    exercises: list[ExerciseReport]

    def cells(self) -> list[str]:
        learners = sum(e.learners for e in self.exercises)
        first = share(sum(e.first_try_passed for e in self.exercises), learners)
        passed = sum(e.passed for e in self.exercises)
        solution = share(sum(e.solution_before_pass for e in self.exercises), passed)
        return [
            str(sum(e.attempts for e in self.exercises)),
            "—" if first is None else f"{first}%",
            "—" if solution is None else f"{solution}%",
        ]

    def measures(self) -> Iterable[Measure]:
        for e in self.exercises:
            yield Measure("exercise", e.key, "attempts", e.attempts)
            yield Measure("exercise", e.key, "learners", e.learners)
            yield Measure("exercise", e.key, "passed_first_try", e.first_try_passed)
            yield Measure("exercise", e.key, "passed", e.passed)
            yield Measure("exercise", e.key, "saw_solution", e.saw_solution)
            yield Measure("exercise", e.key, "saw_solution_before_passing", e.solution_before_pass)
            for answer in e.failing:
                feedback = "\n".join(answer.feedback)
                yield Measure(
                    "failing_answer", e.key, "attempts", answer.attempts, answer.answer, feedback
                )
                yield Measure(
                    "failing_answer", e.key, "learners", answer.learners, answer.answer, feedback
                )


class ExercisesSection:
    title = "Graded exercises"
    template = "sandbox/_analytics_exercises.html"
    columns = ["Exercise checks", "Passed at first check", "Solution seen before passing"]

    def reports(self, lessons: Sequence[Lesson], *, answers: bool) -> dict[int, ExercisesReport]:
        """Three queries (two without `answers`), whatever the number of learners."""
        exercises = list(
            Exercise.objects.active()
            .filter(lesson__in=[lesson.pk for lesson in lessons])
            .only("id", "lesson_id", "key", "title")
            .order_by("lesson_id", "position", "pk")
        )
        if not exercises:
            return {}
        counts = _attempt_counts([e.pk for e in exercises])
        labs = {lesson.pk for lesson in lessons if lesson.mode == Lesson.Mode.DJANGO_LAB}
        failing = _failing_answers(exercises, labs) if answers else {}
        found: dict[int, ExercisesReport] = {}
        for exercise in exercises:
            report = found.setdefault(
                exercise.lesson_id, ExercisesReport(exercise.lesson_id in labs, [])
            )
            shapes, read = failing.get(exercise.pk, ([], 0))
            report.exercises.append(
                ExerciseReport(
                    exercise.key,
                    exercise.title,
                    *counts.get(exercise.pk, (0,) * 6),
                    failing=shapes,
                    failing_total=read,
                )
            )
        return found


def _attempt_counts(exercise_ids: list[int]) -> dict[int, tuple[int, ...]]:
    """Per exercise: (checks, learners who checked, passed at their first check, passed,
    saw the solution, saw it before their first pass). One query."""
    table = ExerciseAttempt._meta.db_table
    check = ExerciseAttempt.Kind.CHECK  # any other kind read the solution (asked, or gave up)
    sql = f"""
        WITH per_learner AS (
            SELECT exercise_id,
                   count(*) FILTER (WHERE kind = %s) AS checks,
                   (array_agg(passed ORDER BY created, id) FILTER (WHERE kind = %s))[1]
                       AS first_passed,
                   min(created) FILTER (WHERE kind = %s AND passed) AS passed_at,
                   min(created) FILTER (WHERE kind <> %s) AS solution_at
            FROM {table}
            WHERE exercise_id = ANY(%s)
            GROUP BY exercise_id, {connection.ops.quote_name(_learner_column())}
        )
        SELECT exercise_id, sum(checks)::int,
               count(*) FILTER (WHERE checks > 0),
               count(*) FILTER (WHERE first_passed),
               count(*) FILTER (WHERE passed_at IS NOT NULL),
               count(*) FILTER (WHERE solution_at IS NOT NULL),
               count(*) FILTER (WHERE solution_at < passed_at)
        FROM per_learner GROUP BY exercise_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [check, check, check, check, exercise_ids])
        return {row[0]: tuple(row[1:]) for row in cursor.fetchall()}


def _failing_answers(
    exercises: list[Exercise], labs: set[int]
) -> dict[int, tuple[list[FailingAnswer], int]]:
    """Per exercise: its most common failing answer shapes, and how many answers were read.
    One query; the grouping is done here because the shape comes from a parser."""
    lab_exercises = {e.pk for e in exercises if e.lesson_id in labs}
    rows = (
        ExerciseAttempt.objects.filter(
            exercise__in=exercises, kind=ExerciseAttempt.Kind.CHECK, passed=False
        )
        .annotate(
            recency=Window(
                RowNumber(), partition_by=F("exercise_id"), order_by=[F("created").desc()]
            )
        )
        .filter(recency__lte=FAILING_ANSWERS_READ)
        .values_list("exercise_id", LEARNER_FIELD, "sql", "feedback")
    )
    groups: dict[int, dict[str, list[tuple]]] = defaultdict(lambda: defaultdict(list))
    for exercise_id, who, answer, feedback in rows:
        shape = python_shape(answer) if exercise_id in lab_exercises else sql_shape(answer)
        groups[exercise_id][shape].append((who, answer, tuple(feedback or ())))
    found = {}
    for exercise_id, shapes in groups.items():
        answers = [_summarise(attempts) for attempts in shapes.values()]
        answers.sort(key=lambda a: (-a.learners, -a.attempts, a.answer))
        read = sum(len(attempts) for attempts in shapes.values())
        found[exercise_id] = (answers[:FAILING_SHAPES_SHOWN], read)
    return found


def _summarise(attempts: list[tuple]) -> FailingAnswer:
    texts = Counter(answer.strip() for _, answer, _ in attempts)
    feedback = Counter(told for _, _, told in attempts)
    return FailingAnswer(
        answer=texts.most_common(1)[0][0],
        attempts=len(attempts),
        learners=len({who for who, _, _ in attempts}),
        feedback=list(feedback.most_common(1)[0][0]),
    )
