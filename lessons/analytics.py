"""Where learners struggle: staff-only counts over what learners did in a lesson, read from
the learning loop's records (quiz attempts, self-check marks, lesson progress and confidence).

Pure query functions that return dataclasses, for any number of lessons at once: a lesson's
page asks for one lesson, its track's summary for all of them, with the same fixed number of
queries whatever the number of learners. No learner is ever named; only counts leave here.

Other apps add sections (the sandbox adds graded exercises, sandbox/analytics.py) by
registering a `Section` from their AppConfig.ready(), so nothing here imports them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db.models import Count, Q

from lessons.models import (
    Confidence,
    Lesson,
    LessonProgress,
    QuizAttempt,
    QuizChoice,
    QuizQuestion,
    SelfCheckItem,
    SelfCheckMark,
)


def share(part: int, whole: int) -> int | None:
    """`part` as a whole percentage of `whole`, or None when there is nothing to divide."""
    return round(100 * part / whole) if whole else None


@dataclass(frozen=True)
class Measure:
    """One number of the CSV export: which part of a lesson, which item, what was counted.
    `answer` and `feedback` carry the text of a failing answer's row."""

    part: str
    item: str
    measure: str
    value: int | str | None
    answer: str = ""
    feedback: str = ""


# -- Quiz -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChoiceSpread:
    """One choice of a question: how many learners picked it in a wrong answer."""

    key: str
    text_html: str
    is_correct: bool
    picked_wrong: int
    of_wrong: int  # learners who answered the question wrong at least once

    @property
    def percent(self) -> int:
        return share(self.picked_wrong, self.of_wrong) or 0


@dataclass(frozen=True)
class QuestionReport:
    key: str
    prompt_html: str
    allows_many: bool
    answered: int  # learners who answered at least once
    first_try_right: int
    answered_wrong: int  # learners with at least one wrong answer
    choices: list[ChoiceSpread]

    @property
    def first_try_percent(self) -> int | None:
        return share(self.first_try_right, self.answered)

    @property
    def distractors(self) -> list[ChoiceSpread]:
        """The choices picked in wrong answers, most picked first."""
        picked = [choice for choice in self.choices if choice.picked_wrong]
        return sorted(picked, key=lambda choice: -choice.picked_wrong)


def quiz_reports(lessons: Sequence[Lesson]) -> dict[int, list[QuestionReport]]:
    """Each lesson's active quiz questions, in order, with first-try and distractor counts.
    Four queries, whatever the number of learners and lessons."""
    ids = [lesson.pk for lesson in lessons]
    questions = list(
        QuizQuestion.objects.active()
        .filter(lesson__in=ids)
        .only("id", "lesson_id", "key", "prompt_html", "allows_many")
        .order_by("lesson_id", "position", "pk")
    )
    choices = defaultdict(list)
    for choice in QuizChoice.objects.filter(question__in=questions, is_active=True).order_by(
        "position", "pk"
    ):
        choices[choice.question_id].append(choice)
    counts, picked = _answer_counts(questions)
    reports: dict[int, list[QuestionReport]] = {pk: [] for pk in ids}
    for question in questions:
        row = counts.get(question.pk, {})
        wrong = row.get("wrong", 0)
        spread = [
            ChoiceSpread(c.key, c.text_html, c.is_correct, picked.get(c.pk, 0), wrong)
            for c in choices[question.pk]
        ]
        reports[question.lesson_id].append(
            QuestionReport(
                key=question.key,
                prompt_html=question.prompt_html,
                allows_many=question.allows_many,
                answered=row.get("answered", 0),
                first_try_right=row.get("first_right", 0),
                answered_wrong=wrong,
                choices=spread,
            )
        )
    return reports


def _answer_counts(questions: list[QuizQuestion]) -> tuple[dict[int, dict], dict[int, int]]:
    """Per question: learners who answered, who answered wrong, who were right at their
    first try; per choice: learners who picked it in a wrong answer. Two queries."""
    attempts = QuizAttempt.objects.filter(question__in=questions)
    # Each learner's first answer to each question (DISTINCT ON keeps the earliest).
    first_tries = (
        attempts.order_by("learner_id", "question_id", "created_at", "pk")
        .distinct("learner_id", "question_id")
        .values("pk")
    )
    counts = {
        row["question_id"]: row
        for row in attempts.values("question_id").annotate(
            answered=Count("learner", distinct=True),
            wrong=Count("learner", distinct=True, filter=Q(is_correct=False)),
            first_right=Count("pk", filter=Q(is_correct=True, pk__in=first_tries)),
        )
    }
    picked = {
        row["quizchoice_id"]: row["learners"]
        for row in QuizAttempt.choices.through.objects.filter(
            quizattempt__question__in=questions, quizattempt__is_correct=False
        )
        .values("quizchoice_id")
        .annotate(learners=Count("quizattempt__learner", distinct=True))
    }
    return counts, picked


# -- Self-checks and reach ------------------------------------------------------------------


@dataclass(frozen=True)
class SelfCheckReport:
    key: str
    question_html: str
    got_it: int
    not_yet: int

    @property
    def got_it_percent(self) -> int | None:
        return share(self.got_it, self.got_it + self.not_yet)


def self_check_reports(lessons: Sequence[Lesson]) -> dict[int, list[SelfCheckReport]]:
    """Each lesson's active self-check items with how learners marked them. Two queries."""
    ids = [lesson.pk for lesson in lessons]
    items = list(
        SelfCheckItem.objects.active()
        .filter(lesson__in=ids)
        .only("id", "lesson_id", "key", "question_html")
        .order_by("lesson_id", "position", "pk")
    )
    marks = {
        row["item_id"]: row
        for row in SelfCheckMark.objects.filter(item__in=items)
        .values("item_id")
        .annotate(
            marked_yes=Count("pk", filter=Q(got_it=True)),
            marked_no=Count("pk", filter=Q(got_it=False)),
        )
    }
    reports: dict[int, list[SelfCheckReport]] = {pk: [] for pk in ids}
    for item in items:
        row = marks.get(item.pk, {})
        reports[item.lesson_id].append(
            SelfCheckReport(
                item.key, item.question_html, row.get("marked_yes", 0), row.get("marked_no", 0)
            )
        )
    return reports


@dataclass(frozen=True)
class ConfidenceCount:
    level: int
    label: str
    learners: int
    of_rated: int

    @property
    def percent(self) -> int:
        return share(self.learners, self.of_rated) or 0

    @property
    def tone(self) -> str:
        return "warn" if Confidence.is_low(self.level) else "good"


@dataclass(frozen=True)
class Reach:
    """How many learners opened the lesson, finished it, and how sure they said they were."""

    opened: int
    finished: int
    confidence: list[ConfidenceCount]  # every level, "Not yet" first

    @property
    def finished_percent(self) -> int | None:
        return share(self.finished, self.opened)

    @property
    def rated(self) -> int:
        return sum(level.learners for level in self.confidence)

    @property
    def confident_percent(self) -> int | None:
        """Share of the learners who rated themselves "Mostly" or "Yes, easily"."""
        sure = sum(c.learners for c in self.confidence if not Confidence.is_low(c.level))
        return share(sure, self.rated)


def reach_reports(lessons: Sequence[Lesson]) -> dict[int, Reach]:
    """Opened, finished and confidence counts of each lesson. One query."""
    ids = [lesson.pk for lesson in lessons]
    rows = (
        LessonProgress.objects.filter(lesson__in=ids)
        .values("lesson_id", "confidence")
        .annotate(
            opened=Count("pk"),
            finished=Count("pk", filter=Q(status=LessonProgress.Status.COMPLETED)),
        )
    )
    opened: dict[int, int] = defaultdict(int)
    finished: dict[int, int] = defaultdict(int)
    rated: dict[int, dict[int, int]] = defaultdict(dict)
    for row in rows:
        opened[row["lesson_id"]] += row["opened"]
        finished[row["lesson_id"]] += row["finished"]
        if row["confidence"] is not None:
            rated[row["lesson_id"]][row["confidence"]] = row["opened"]
    reports = {}
    for pk in ids:
        total = sum(rated[pk].values())
        levels = [
            ConfidenceCount(level.value, level.label, rated[pk].get(level.value, 0), total)
            for level in Confidence
        ]
        reports[pk] = Reach(opened[pk], finished[pk], levels)
    return reports


# -- Sections other apps add ----------------------------------------------------------------


class SectionReport(Protocol):
    """What a registered section found in one lesson."""

    def cells(self) -> list[str]:
        """Its values in the track summary, one per `Section.columns`."""
        ...

    def measures(self) -> Iterable[Measure]:
        """Its rows of the CSV export."""
        ...


class Section(Protocol):
    """A part of the analytics pages another app adds (the sandbox: graded exercises)."""

    title: str
    template: str  # rendered with `report` (a SectionReport) in a lesson's page
    columns: list[str]  # its columns in the track summary

    def reports(self, lessons: Sequence[Lesson], *, answers: bool) -> dict[int, SectionReport]:
        """A report for each lesson that has anything of this section, in a fixed number of
        queries. `answers`: also group the failing answers (the track summary needs none)."""
        ...


_sections: list[Section] = []


def register_section(section: Section) -> None:
    """Show `section` on every analytics page (once, however often it is registered)."""
    if all(type(known) is not type(section) for known in _sections):
        _sections.append(section)


@dataclass(frozen=True)
class SectionPart:
    section: Section
    report: Any  # the section's SectionReport, or None when the lesson has none of it


# -- Pages ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LessonReport:
    lesson: Lesson
    reach: Reach
    questions: list[QuestionReport]
    self_checks: list[SelfCheckReport]
    sections: list[SectionPart] = field(default_factory=list)

    @property
    def first_try_percent(self) -> int | None:
        """Quiz answers right at the first try, over every question of the lesson."""
        right = sum(question.first_try_right for question in self.questions)
        return share(right, sum(question.answered for question in self.questions))

    def measures(self) -> list[Measure]:
        """Every number of the lesson's page, as CSV rows."""
        reach = self.reach
        rows = [
            Measure("lesson", "", "opened", reach.opened),
            Measure("lesson", "", "finished", reach.finished),
        ]
        rows += [
            Measure("confidence", level.label, "learners", level.learners)
            for level in reach.confidence
        ]
        for question in self.questions:
            rows += [
                Measure("quiz", question.key, "answered", question.answered),
                Measure("quiz", question.key, "right_first_try", question.first_try_right),
                Measure("quiz", question.key, "answered_wrong", question.answered_wrong),
            ]
            rows += [
                Measure(
                    "quiz",
                    f"{question.key}/{choice.key}",
                    "picked_in_wrong_answer",
                    choice.picked_wrong,
                )
                for choice in question.choices
            ]
        for item in self.self_checks:
            rows += [
                Measure("self_check", item.key, "got_it", item.got_it),
                Measure("self_check", item.key, "not_yet", item.not_yet),
            ]
        for part in self.sections:
            if part.report is not None:
                rows += part.report.measures()
        return rows


def lesson_reports(lessons: Sequence[Lesson], *, answers: bool = True) -> list[LessonReport]:
    """A report for each lesson, in the order given, in a fixed number of queries."""
    quiz = quiz_reports(lessons)
    checks = self_check_reports(lessons)
    reach = reach_reports(lessons)
    found = [(section, section.reports(lessons, answers=answers)) for section in _sections]
    return [
        LessonReport(
            lesson,
            reach[lesson.pk],
            quiz[lesson.pk],
            checks[lesson.pk],
            [SectionPart(section, reports.get(lesson.pk)) for section, reports in found],
        )
        for lesson in lessons
    ]


def sections() -> list[Section]:
    """The registered sections, in the order they were registered."""
    return list(_sections)
