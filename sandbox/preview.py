"""Check and Show the solution in the staff preview (``/learn/preview/``), on the draft itself.

The preview (``lessons.views.preview``) keeps each draft it rendered in the staff member's
session, by digest, and its page sends that digest (``draft``) with every Check. Here the draft
is parsed again (a named file is read from disk again, so what is checked is the file as it is
now, not as published), and the answer is graded against the draft's own exercise on the draft's
own fixture, read from disk: the grader sandbox of that fixture text (``grader_for``, shared by
digest with published lessons of the same fixture, never changed). Nothing is recorded.

Every outcome is an answer shown in place of the exercise's feedback (status 200, so htmx
swaps it): a failed check, a refused answer, a broken solution or fixture, a draft that is no
longer in the session. The draft in the preview form is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from lessons.content import code_block_html, preview_lesson
from lessons.forms import PREVIEW_DRAFTS
from lessons.models import Lesson, Track
from sandbox import connections, grading, runner, servers
from sandbox.models import FixtureMissing, LimitReached, Sandbox, admitted


class DraftProblem(ValueError):
    """The draft cannot be checked; the message says why and what to do."""


def draft_exercise(request: HttpRequest, data: dict):
    """(lesson, exercise spec) of the previewed draft named by ``data["draft"]``."""
    lesson, spec = draft_lesson(request, data)
    exercise = next((item for item in spec.exercises if item.key == data.get("exercise")), None)
    if exercise is None:
        raise DraftProblem(f"The draft has no exercise {data.get('exercise')!r}.")
    return lesson, exercise


def draft_lesson(request: HttpRequest, data: dict):
    """(unsaved lesson, lesson spec) of the previewed draft named by ``data["draft"]``."""
    if not (request.user.is_authenticated and request.user.is_staff):
        raise DraftProblem("Only staff can check drafts.")
    kept = request.session.get(PREVIEW_DRAFTS, {}).get(str(data.get("draft")))
    if kept is None:
        raise DraftProblem("This draft is no longer in your session: press Preview again.")
    source = kept["source"]
    if source is None:  # a named file: as it is on disk now
        file = Path(settings.CONTENT_DIR) / kept["path"]
        try:
            source = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DraftProblem(f"{kept['path']} cannot be read: {exc}") from None
    spec, errors = preview_lesson(settings.CONTENT_DIR, kept["path"], source)
    if spec is None or errors:
        first = f" ({errors[0]})" if errors else ""
        raise DraftProblem(f"The draft has errors now{first}: press Preview again.")
    lesson = Lesson(track=Track(slug=spec.track, title=spec.track))
    lesson.fill_from(spec)
    return lesson, spec


@dataclass
class DraftRun:
    results: list
    error: runner.RunError | None
    notices: list[str] = field(default_factory=list)


@dataclass
class DraftSandbox:
    """What the run, explain and reset views use in place of a learner's ``Sandbox`` for a
    previewed draft: every Run and Explain starts from a fresh copy of the draft's fixture as
    the file is on disk (the grader of that fixture text, in a transaction that is rolled
    back), so nothing is kept between runs, Reset has nothing to do and no plan is kept."""

    lesson: Lesson
    just_made: bool = True  # the reset view then leaves it alone
    keeps_plans: bool = False

    def run(self, parsed: list) -> DraftRun:
        for index, statement in enumerate(parsed):
            if statement.kind == "TransactionStmt":  # it would end the rolled-back transaction
                message = (
                    "In the preview every run is one transaction that is rolled back: leave out "
                    "BEGIN, COMMIT and ROLLBACK."
                )
                return DraftRun(results=[], error=runner.RunError("25001", message, index))
        grader = Sandbox.objects.grader_for(self.lesson)
        try:
            ((outcome,),) = runner.run_scratch(grader.server, grader.name, [""], [parsed])
        except runner.ScratchFailed as exc:
            return DraftRun(results=[], error=runner.RunError("57014", str(exc), 0))
        return DraftRun(results=outcome.results, error=outcome.error)

    def explain(self, statement) -> runner.ExplainOutcome:
        grader = Sandbox.objects.grader_for(self.lesson)
        return runner.explain(grader.server, grader.name, statement)


def draft_sandbox(request: HttpRequest, data: dict) -> DraftSandbox:
    """The stand-in sandbox of the draft named by ``data["draft"]`` (DraftProblem if none)."""
    lesson, _ = draft_lesson(request, data)
    if lesson.mode != Lesson.Mode.SQL_SANDBOX:
        raise DraftProblem("The preview runs SQL lessons; run `content check` for lab lessons.")
    return DraftSandbox(lesson)


def check(request: HttpRequest, data: dict, learner_id: int) -> HttpResponse:
    """Grade the answer (``sql``, or ``code`` in a lab lesson) against the draft's exercise on
    the draft's fixture."""
    try:
        lesson, exercise = draft_exercise(request, data)
        with admitted(learner_id, servers.server_for("grader")):
            grader = Sandbox.objects.grader_for(lesson)
            if lesson.mode == Lesson.Mode.DJANGO_LAB:
                verdict, extra = _grade_lab(grader, lesson, exercise, data.get("code"))
            else:
                verdict, extra = _grade_sql(grader, lesson, exercise, data.get("sql")), {}
    except (DraftProblem, grading.AnswerRefused, runner.ScratchFailed) as exc:
        return _problem(request, str(exc))
    except grading.SolutionBroken as exc:
        return _problem(request, f"The draft's solution fails: {exc}")
    except LimitReached as exc:
        return _problem(request, exc.message)
    except (servers.SandboxUnavailable, connections.SandboxBusy, FixtureMissing) as exc:
        return _problem(request, f"Checking is unavailable: {exc}")
    except psycopg.Error as exc:  # the fixture's own SQL fails while seeding
        return _problem(request, f"The draft's fixture fails: {servers.first_line(exc)}")
    payload = {"ok": True, **verdict.as_json(), "exercise": exercise.key, **extra}
    payload["plan_checked"] = bool(exercise.plan_checks)
    if verdict.passed:
        if any(item.get("hidden") for item in exercise.plan_checks):
            payload["plan_checks"] = exercise.plan_checks
        payload["solution_html"] = _solution_html(lesson, exercise)
    return _answer(request, payload, "verdict")


def _grade_sql(grader: Sandbox, lesson: Lesson, exercise, sql) -> grading.Verdict:
    if not isinstance(sql, str):
        raise DraftProblem('"sql" must be a string.')
    answer = grading.parse_answer(sql, lesson.sandbox_languages, settings.SANDBOX_MAX_STATEMENTS)
    try:
        solution = grading.parse_answer(exercise.solution, ["plpgsql", "sql"], 1000)
    except grading.AnswerRefused as exc:
        raise DraftProblem(f"The draft's solution cannot be run: {exc}") from None
    return grading.grade(
        grader.server,
        grader.name,
        answer,
        solution,
        exercise.variants,
        exercise.order_matters,
        exercise.plan_checks,
    )


def _grade_lab(grader: Sandbox, lesson: Lesson, exercise, code) -> tuple[grading.Verdict, dict]:
    from sandbox.lab.grading import LabExercise, grade_code

    if not isinstance(code, str):
        raise DraftProblem('"code" must be a string.')
    spec = LabExercise(
        solution=exercise.solution,
        variants=exercise.variants,
        order_matters=exercise.order_matters,
        plan_checks=exercise.plan_checks,
        max_queries=exercise.max_queries,
    )
    verdict, details = grade_code(grader.server, grader.name, lesson.lab_models, spec, code)
    return verdict, {**details, "max_queries": exercise.max_queries}


def _solution_html(lesson: Lesson, exercise) -> str:
    language = "python" if lesson.mode == Lesson.Mode.DJANGO_LAB else "sql"
    return code_block_html(exercise.solution, language)


def solution(request: HttpRequest, data: dict) -> HttpResponse:
    """The draft's solution (nothing is recorded)."""
    try:
        lesson, exercise = draft_exercise(request, data)
    except DraftProblem as exc:
        return _problem(request, str(exc))
    payload = {"ok": True, "solution": exercise.solution, "revealed": True}
    payload["solution_html"] = _solution_html(lesson, exercise)
    return _answer(request, payload, "solution")


def _problem(request: HttpRequest, message: str) -> HttpResponse:
    return _answer(request, {"ok": False, "error": message}, "problem")


def _answer(request: HttpRequest, payload: dict, partial: str) -> HttpResponse:
    if request.htmx:
        return render(request, f"sandbox/_exercise.html#{partial}", payload)
    return JsonResponse({key: value for key, value in payload.items() if key != "solution_html"})
