"""``POST /api/lab/run`` and ``POST /api/lab/check``: the Django ORM lab's JSON API.

Same session, CSRF, admission (runs per minute, runs at once per sandbox server, the process's
share of slow requests) and error shapes as the SQL API (``sandbox.views.sandbox_api``): the
web process finds or makes the learner's sandbox, derives its role's connection and sends the
worker only that, the lesson's model module name, the code and the limits.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from lessons.learners import learner_for
from lessons.models import Lesson
from sandbox import grading, preview, roles, runner
from sandbox.exercise_views import _exercise, _exercise_answer, verdict_response
from sandbox.lab import client, runlog
from sandbox.lab.grading import grade_lab
from sandbox.models import ExerciseAttempt, FixtureMissing, LimitReached, Sandbox, admitted
from sandbox.views import BadRequest, _data_changed, _payload, _share, sandbox_api

# Keys of the pinned answer (DESIGN.md); extra: "bound" (which limit stopped the run) and
# "django" (the version the lab runs).
_ANSWER_KEYS = ("ok", "output", "result", "queries", "repeated", "error", "bound", "django")


def _code(data: dict) -> str:
    code = data.get("code")
    if not isinstance(code, str):
        raise BadRequest('"code" must be a string.')
    if len(code) > settings.LAB_MAX_CODE_LENGTH:
        raise BadRequest(
            f"Code length limit: at most {settings.LAB_MAX_CODE_LENGTH} characters "
            f"(this is {len(code)})."
        )
    return code


def _lab_lesson(lesson: Lesson) -> Lesson:
    if lesson.mode != Lesson.Mode.DJANGO_LAB:
        raise BadRequest(f"The lesson {lesson.ref!r} is not a Django ORM lab lesson.")
    return lesson


def run_code(sandbox: Sandbox, lesson: Lesson, code: str) -> dict:
    """Run learner code in the learner's sandbox through a worker; the pinned answer, counted
    and logged as SQL runs are (``runlog``)."""
    started = time.perf_counter()
    answer = client.call_as(
        sandbox.server,
        sandbox.name,
        {
            "op": "run",
            "models": lesson.lab_models,
            "code": code,
            "limits": client.limits(),
        },
    )
    queries = answer.get("queries") or []
    payload = {key: answer.get(key) for key in _ANSWER_KEYS} | {
        "queries": queries,
        "repeated": answer.get("repeated") or [],
    }
    disk_bytes = None
    if any(query["sql"].lstrip()[:6].upper() in _WRITES for query in queries):
        disk_bytes = roles.disk_usage(sandbox.server, [sandbox.name]).get(sandbox.name, 0)
    sandbox._touch(disk_bytes)
    limit_mb = settings.SANDBOX_DISK_LIMIT_MB
    if disk_bytes is not None and disk_bytes > limit_mb * 1024 * 1024:
        # As for SQL runs: over the disk limit, the sandbox goes back to the lesson's data.
        sandbox.reset()
        payload["ok"] = False
        payload["bound"] = "disk"
        payload["error"] = {
            "type": "LimitExceeded",
            "message": f"Disk limit: your sandbox grew to {disk_bytes / 1024 / 1024:.0f} MB, "
            f"over the {limit_mb} MB limit, so it was reset to the lesson's starting data.",
            "line": None,
        }
    runlog.record(sandbox, code, started, payload, disk_bytes)
    return payload


# Statements after which the sandbox's size is measured (the first six characters).
_WRITES = {"INSERT", "UPDATE", "DELETE", "CREATE", "ALTER ", "COPY F"}


@sandbox_api
def run(request: HttpRequest, data: dict, sandbox: Sandbox, learner_id: int) -> HttpResponse:
    code = _code(data)
    lesson = _lab_lesson(sandbox.lesson)
    # data_changed: as for SQL runs, the learner is told when the lesson's data changed.
    return JsonResponse(run_code(sandbox, lesson, code) | _data_changed(sandbox))


@never_cache
@require_POST
def check(request: HttpRequest) -> HttpResponse:
    """Grade a lab answer: ``{"lesson", "exercise", "code"}`` → the SQL check's answer
    (``passed``, ``problems``, ``rows``, ``plan_problems``, ``plan_checked``, ``solution`` once
    passed) plus ``queries``, ``repeated`` and ``max_queries``."""
    try:
        data = _payload(request)
        if "draft" in data:  # the staff preview of a draft (sandbox/preview.py)
            return preview.check(request, data, learner_for(request, create=True).pk)
        exercise = _exercise(data)
        if exercise.lesson.mode != Lesson.Mode.DJANGO_LAB:
            raise BadRequest("This exercise is checked by /api/sandbox/check.")
        code = _code(data)
        learner = learner_for(request, create=True)
        with _share.taken(), admitted(learner.pk, runner.server_for("grader")):
            verdict, details = grade_lab(exercise, code)
            ExerciseAttempt.record(
                learner.pk, exercise, code, verdict.passed, verdict.problems + verdict.plan_problems
            )
    except BadRequest as exc:
        return _exercise_answer(request, {"ok": False, "error": str(exc)}, "problem", 400)
    except LimitReached as exc:
        payload = {"ok": False, "error": exc.message, "retry_after": exc.retry_after}
        return _exercise_answer(request, payload, "problem", 429)
    except runner.SandboxBusy as exc:
        payload = {"ok": False, "error": str(exc), "retry_after": 1}
        return _exercise_answer(request, payload, "problem", 429)
    except (runner.SandboxUnavailable, FixtureMissing) as exc:
        payload = {"ok": False, "error": f"Checking is unavailable: {exc}", "retry_after": 30}
        return _exercise_answer(request, payload, "problem", 503)
    except grading.SolutionBroken:
        message = "This exercise's reference solution failed; it has been reported to us."
        return _exercise_answer(request, {"ok": False, "error": message}, "problem", 500)
    return verdict_response(
        request, exercise, learner, verdict, **details, max_queries=exercise.max_queries
    )
