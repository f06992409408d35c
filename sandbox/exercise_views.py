"""The graded exercises' API: check an answer, show the solution (after the hint rules of
``sandbox/exercise_help.py``), and the hints unlocked so far. The lab's check
(``sandbox/lab/api.py``) answers through ``verdict_response`` too."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from lessons.learners import learner_for
from lessons.models import ExerciseOutcome, Lesson, LessonProgress
from sandbox import connections, grading, preview, runner, servers
from sandbox.exercise_help import help_state, refusal
from sandbox.models import ExerciseAttempt, FixtureMissing, LimitReached, admitted
from sandbox.views import BadRequest, _payload, _share, _sql


def _exercise(data: dict):
    from lessons.models import Exercise

    ref, key = data.get("lesson"), data.get("exercise")
    if not isinstance(ref, str) or "/" not in ref or not isinstance(key, str):
        raise BadRequest('"lesson" must be "<track>/<slug>" and "exercise" an exercise id.')
    track, _, slug = ref.partition("/")
    found = (
        Exercise.objects.active()
        .select_related("lesson__track")
        .filter(key=key, lesson__in=Lesson.objects.published(), lesson__track__slug=track)
        .filter(lesson__slug=slug)
        .first()
    )
    if found is None:
        raise BadRequest(f"No exercise {key!r} in {ref!r}.")
    return found


def _exercise_answer(request: HttpRequest, payload: dict, partial: str, status: int = 200):
    if request.htmx:
        return render(request, f"sandbox/_exercise.html#{partial}", payload, status=status)
    payload = {key: value for key, value in payload.items() if key != "solution_html"}
    response = JsonResponse(payload, status=status)
    if "retry_after" in payload:
        response["Retry-After"] = str(payload["retry_after"])
    return response


@never_cache
@require_POST
def check_exercise(request: HttpRequest) -> HttpResponse:
    """Grade an answer: ``{"lesson", "exercise", "sql"}`` → ``{"passed", "problems", "rows",
    "plan_problems", "solution"}`` (the solution only once passed)."""
    try:
        data = _payload(request)
        if "draft" in data:  # the staff preview of a draft (sandbox/preview.py)
            return preview.check(request, data, learner_for(request, create=True).pk)
        exercise = _exercise(data)
        if exercise.lesson.mode == Lesson.Mode.DJANGO_LAB:
            raise BadRequest("This exercise is a Django ORM lab exercise: use /api/lab/check.")
        sql = _sql(data)
        learner = learner_for(request, create=True)
        with _share.taken(), admitted(learner.pk, servers.server_for("grader")):
            attempt, verdict = ExerciseAttempt.grade(learner.pk, exercise, sql)
    except BadRequest as exc:
        return _exercise_answer(request, {"ok": False, "error": str(exc)}, "problem", 400)
    except grading.AnswerRefused as exc:
        return _exercise_answer(request, {"ok": False, "error": str(exc)}, "problem")
    except LimitReached as exc:
        payload = {"ok": False, "error": exc.message, "retry_after": exc.retry_after}
        return _exercise_answer(request, payload, "problem", 429)
    except (servers.SandboxUnavailable, connections.SandboxBusy, FixtureMissing) as exc:
        payload = {"ok": False, "error": f"Checking is unavailable: {exc}", "retry_after": 30}
        return _exercise_answer(request, payload, "problem", 503)
    except runner.ScratchFailed as exc:
        return _exercise_answer(request, {"ok": False, "error": str(exc)}, "problem")
    except grading.SolutionBroken:
        message = "This exercise's reference solution failed; it has been reported to us."
        return _exercise_answer(request, {"ok": False, "error": message}, "problem", 500)
    return verdict_response(request, exercise, learner, verdict)


def verdict_response(request: HttpRequest, exercise, learner, verdict, **extra) -> HttpResponse:
    """The answer to a graded attempt, SQL or lab (``extra`` adds the lab's keys): the hints
    unlocked and whether the solution is offered (sandbox/exercise_help.py); on a pass, the
    solution, and the lesson's progress recorded."""
    payload = {"ok": True, **verdict.as_json(), "exercise": exercise.key, **extra}
    payload["plan_checked"] = bool(exercise.plan_checks)
    state = help_state(learner.pk, exercise)
    payload["help"] = state
    if verdict.passed:
        if any(item.get("hidden") for item in exercise.plan_checks or []):
            # A hidden plan check's detail, kept from the page until now.
            payload["plan_checks"] = exercise.plan_checks
        payload["solution"] = exercise.solution_sql
        payload["solution_html"] = _solution_html(exercise)
        lesson = exercise.lesson
        LessonProgress.objects.exercise_passed(
            learner, lesson, all_passed=ExerciseAttempt.passed_all(learner.pk, lesson)
        )
    ExerciseOutcome.note_check(
        learner, exercise, passed=verdict.passed, with_solution=state["passed_with_solution"]
    )
    response = _exercise_answer(request, payload, "verdict")
    trigger_client_event(response, "exerciseChecked", {"exercise": exercise.key})
    if verdict.passed:
        trigger_client_event(response, "progressChanged")
    return response


def _give_up(data: dict) -> bool:
    value = data.get("give_up")
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true", "on"))


@never_cache
@require_POST
def exercise_solution(request: HttpRequest) -> HttpResponse:
    """Show the solution once it is offered (sandbox/exercise_help.py): after enough failed
    checks, once passed, or to a learner who gives up (``"give_up": true``, recorded as
    such). Before that: 403 with what is needed. Each reading is recorded."""
    try:
        data = _payload(request)
        if "draft" in data:  # the staff preview of a draft (sandbox/preview.py)
            return preview.solution(request, data)
        exercise = _exercise(data)
    except BadRequest as exc:
        return _exercise_answer(request, {"ok": False, "error": str(exc)}, "problem", 400)
    learner = learner_for(request, create=True)
    state = help_state(learner.pk, exercise)
    gave_up = _give_up(data) and not state["solution_available"]
    if not state["solution_available"] and not gave_up:
        payload = {"ok": False, "error": refusal(state), "help": state}
        return _exercise_answer(request, payload, "problem", 403)
    ExerciseAttempt.reveal(learner.pk, exercise, gave_up=gave_up)
    if not state["passed"]:
        ExerciseOutcome.note_solution(learner, exercise)
    payload = {
        "ok": True,
        "solution": exercise.solution_sql,
        "solution_html": _solution_html(exercise),
        "revealed": True,
        "gave_up": gave_up,
    }
    response = _exercise_answer(request, payload, "solution")
    trigger_client_event(response, "exerciseChecked", {"exercise": exercise.key})
    return response


@never_cache
@require_GET
def exercise_help(request: HttpRequest) -> HttpResponse:
    """``GET ?lesson=<track>/<slug>&exercise=<id>``: the hints this learner has unlocked and
    whether the solution is offered. The lesson page (the same for everyone, cacheable)
    loads it into each exercise, and again after each check."""
    data = request.GET.dict()
    try:
        if "draft" in data:  # a staff preview: every hint, and the solution on request
            lesson, draft = preview.draft_exercise(request, data)
            state = {"hints": list(draft.hints_html), "solution_available": True, "preview": 1}
            return _exercise_answer(request, {"ok": True, "help": state, **data}, "help")
        exercise = _exercise(data)
    except (BadRequest, preview.DraftProblem) as exc:
        return _exercise_answer(request, {"ok": False, "error": str(exc)}, "problem", 400)
    # A visitor who never checked anything has no Learner yet: reading makes none (no session).
    learner = learner_for(request, create=False)
    state = help_state(learner.pk if learner else None, exercise)
    payload = {"ok": True, "help": state, "lesson": exercise.lesson.ref, "exercise": exercise.key}
    return _exercise_answer(request, payload, "help")


def _solution_html(exercise) -> str:
    from lessons.content import code_block_html

    # A Django ORM lab exercise's solution is Python.
    language = "python" if exercise.lesson.mode == Lesson.Mode.DJANGO_LAB else "sql"
    return code_block_html(exercise.solution_sql, language)
