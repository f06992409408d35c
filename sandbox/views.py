"""The sandbox's JSON API and its htmx UI: one set of views, two representations.

``POST /api/sandbox/run|explain|reset`` take JSON (``{"lesson": "<track>/<slug>", "sql": …}``)
or, from the htmx UI, a form with the same fields. htmx requests get HTML fragments of
``sandbox/_sandbox.html``; everything else gets the JSON documented in sandbox/README.md (with
``results[].types``, the column type names, and ``notices``).

Error positions (``error.position``) are 1-based character offsets into the submitted SQL, so a
client can mark them in what the learner typed.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from functools import wraps

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from lessons.learners import learner_for
from lessons.models import Lesson, LessonProgress
from sandbox import catalog, connections, grading, plans, runner, servers, statements
from sandbox.models import (
    ExerciseAttempt,
    FixtureMissing,
    LimitReached,
    PlanRecord,
    Sandbox,
    admit,
    admitted,
    run_slot,
)
from sandbox.models import held as admission_held


class BadRequest(ValueError):
    pass


def learner_key(request: HttpRequest) -> str:
    """A signed-in user, or for visitors a random token kept in their session (it survives the
    session key's rotation at log-in, and is never the session key itself)."""
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    token = request.session.get("sandbox_learner")
    if not token:
        token = request.session["sandbox_learner"] = secrets.token_hex(16)
    return f"session:{token}"


def _payload(request: HttpRequest) -> dict:
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except RecursionError:
            raise BadRequest("The body is not valid JSON: it is nested too deeply.") from None
        except ValueError as exc:
            # Also Python's guard against integers of more than 4,300 digits.
            detail = "a number is too long" if "digits" in str(exc) else "it cannot be parsed"
            raise BadRequest(f"The body is not valid JSON: {detail}.") from None
        if not isinstance(data, dict):
            raise BadRequest("The body must be a JSON object.")
    else:
        data = request.POST.dict()
    for name, value in data.items():
        if isinstance(value, str):
            _refuse_unstorable_text(name, value)
    return data


def _refuse_unstorable_text(name: str, value: str) -> None:
    """PostgreSQL text can hold neither a NUL byte nor a lone surrogate. Without this, a NUL
    silently ended the SQL there (the rest never ran) and a surrogate crashed the parser."""
    if "\x00" in value:
        raise BadRequest(f'"{name}" contains a NUL character (\\u0000); remove it and try again.')
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadRequest(
            f'"{name}" contains a lone surrogate (\\u{ord(value[exc.start]):04x}), which is '
            "not valid Unicode text; remove it and try again."
        ) from None


def _lesson_ref(data: dict) -> str:
    ref = data.get("lesson")
    if not isinstance(ref, str) or "/" not in ref:
        raise BadRequest('"lesson" must be "<track>/<slug>".')
    return ref


def _sandbox_lesson(ref: str, lesson: Lesson | None) -> Lesson:
    """The lesson if it has a sandbox, else BadRequest."""
    if lesson is None:
        raise BadRequest(f"No published lesson {ref!r}.")
    if lesson.mode not in (Lesson.Mode.SQL_SANDBOX, Lesson.Mode.DJANGO_LAB):
        raise BadRequest(f"The lesson {ref!r} has no sandbox.")
    return lesson


def _sql(data: dict) -> str:
    sql = data.get("sql")
    if not isinstance(sql, str):
        raise BadRequest('"sql" must be a string.')
    return sql


def _answer(
    request: HttpRequest,
    payload: dict,
    partial: str,
    status: int = 200,
    context: dict | None = None,
) -> HttpResponse:
    """JSON for API clients; for htmx, the named partial of the sandbox fragment, rendered
    from the same payload (plus ``context``, which JSON clients do not need)."""
    if request.htmx:
        context = {**payload, **(context or {})}
        if "results" in payload:
            context["results"] = [
                {**result, "headers": list(zip(result["columns"], result["types"], strict=True))}
                for result in payload["results"]
            ]
        if payload.get("plan") is not None:
            context["plan_json"] = json.dumps(payload["plan"], indent=2)
        response = render(request, f"sandbox/_sandbox.html#{partial}", context, status=status)
    else:
        response = JsonResponse(payload, status=status)
    if "retry_after" in payload:
        response["Retry-After"] = str(payload["retry_after"])
    return response


def _failure(request: HttpRequest, message: str, status: int, **extra) -> HttpResponse:
    return _answer(request, {"ok": False, "error": message, **extra}, "problem", status)


class _ProcessShare:
    """How many slow sandbox requests this process serves at once: at most
    SANDBOX_REQUESTS_PER_PROCESS of them may have run for longer than
    SANDBOX_SLOW_REQUEST_MS. A slow or hostile run can hold its thread for the whole run
    timeout; while that many do, a new sandbox request is refused at once (429,
    Retry-After) rather than given a thread that lesson pages, quizzes and the discussion
    need. Quick runs (most of them) free their thread at once and are never refused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started: dict[int, float] = {}  # request id: when it started
        self._next = 0

    def slow_ones(self, now: float) -> int:
        threshold = settings.SANDBOX_SLOW_REQUEST_MS / 1000
        return sum(1 for started in self._started.values() if now - started >= threshold)

    @contextlib.contextmanager
    def taken(self) -> Iterator[None]:
        limit = settings.SANDBOX_REQUESTS_PER_PROCESS
        now = time.monotonic()
        with self._lock:
            refused = self.slow_ones(now) >= limit
            if not refused:
                self._next += 1
                ticket = self._next
                self._started[ticket] = now
        if refused:
            raise LimitReached(
                f"Sandbox busy: this server is already running {limit} long sandbox requests "
                "at once; try again in a moment.",
                1,
                "requests_per_process",
            )
        try:
            yield
        finally:
            with self._lock:
                self._started.pop(ticket, None)


_share = _ProcessShare()


def _admitted(request: HttpRequest, view, held: contextlib.ExitStack) -> HttpResponse:
    """Admit the request (limits, sandbox placement) and call the view with its sandbox. The
    run slot is left open on ``held``."""
    data = _payload(request)
    ref = _lesson_ref(data)
    key = learner_key(request)
    lesson, sandbox = held.enter_context(admission_held(admit(key, ref)))
    if sandbox is not None:
        return view(request, data, sandbox, key)
    # The learner's first run of this lesson (already counted above; no slot taken yet).
    lesson = _sandbox_lesson(ref, lesson)
    server = servers.server_for(key)
    held.enter_context(run_slot(server))
    sandbox = Sandbox.objects.make_for_learner(key, lesson)
    return view(request, data, sandbox, key)


def sandbox_api(view):
    """Parse the request, apply the per-learner and per-server limits, and turn the ways a run
    can fail into answers: 400 bad request, 429 with Retry-After, 503 sandbox unavailable.

    The run's slot and this process's share are given back when the view returns, whatever
    happened: the slot is an advisory lock held by the request's database connection, which
    Django hands back to the pool when the request finishes (before any ``request_finished``
    receiver of ours would run), so it must be free by then.
    """

    @wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        try:
            with contextlib.ExitStack() as held:
                held.enter_context(_share.taken())
                return _admitted(request, view, held)
        except BadRequest as exc:
            return _failure(request, str(exc), 400)
        except LimitReached as exc:
            return _failure(request, exc.message, 429, retry_after=exc.retry_after)
        except connections.SandboxBusy as exc:
            return _failure(request, str(exc), 429, retry_after=1)
        except (servers.SandboxUnavailable, FixtureMissing) as exc:
            return _failure(request, f"Sandbox unavailable: {exc}", 503, retry_after=30)

    return never_cache(require_POST(wrapper))


def _refused(exc: statements.StatementRefused) -> dict:
    return {
        "ok": False,
        "results": [],
        "error": {
            "sqlstate": "42601" if isinstance(exc, statements.SyntaxProblem) else "42501",
            "message": exc.message,
            "statement_index": exc.statement_index,
            "position": exc.position,
        },
    }


def _parse(sql: str, lesson: Lesson) -> list[statements.Statement]:
    if len(sql) > settings.SANDBOX_MAX_SQL_LENGTH:
        raise statements.StatementRefused(
            f"SQL text length limit: at most {settings.SANDBOX_MAX_SQL_LENGTH} characters "
            f"(this is {len(sql)}).",
            0,
        )
    return statements.split(
        sql, languages=lesson.sandbox_languages, max_statements=settings.SANDBOX_MAX_STATEMENTS
    )


@sandbox_api
def run(request: HttpRequest, data: dict, sandbox: Sandbox, key: str) -> HttpResponse:
    sql = _sql(data)
    lesson = sandbox.lesson
    context = {"lesson": lesson, "sql": sql}
    try:
        parsed = _parse(sql, lesson)
    except statements.StatementRefused as exc:
        return _answer(request, {**_refused(exc), "notices": []}, "results", context=context)
    outcome = sandbox.run(parsed)
    payload = {
        "ok": outcome.error is None,
        "results": [result.as_json() for result in outcome.results],
        "error": outcome.error.as_json() if outcome.error else None,
        "notices": outcome.notices,
    }
    return _answer(request, payload, "results", context=context)


@sandbox_api
def explain(request: HttpRequest, data: dict, sandbox: Sandbox, key: str) -> HttpResponse:
    sql = _sql(data)
    lesson = sandbox.lesson
    context = {"lesson": lesson, "sql": sql}
    try:
        parsed = _parse(sql, lesson)
        statement = _explainable(parsed)
    except statements.StatementRefused as exc:
        return _answer(request, _refused(exc), "plan", context=context)
    outcome = sandbox.explain(statement)
    payload = {
        "ok": outcome.error is None,
        "plan": outcome.plan,
        "text": outcome.text,
        "elapsed_ms": outcome.elapsed_ms,
        "error": outcome.error.as_json() if outcome.error else None,
        "notices": outcome.notices,
    }
    if outcome.error is None and outcome.plan:
        context.update(_kept_plan(key, lesson, statement.text, outcome))
        payload["plan_id"] = context["record"].pk
    return _answer(request, payload, "plan", context=context)


def _kept_plan(key: str, lesson: Lesson, sql: str, outcome: runner.ExplainOutcome) -> dict:
    """Keep the plan for before/after, and what the plan view shows of it."""
    view = plans.parse(outcome.plan)
    record = PlanRecord.keep(key, lesson, sql, outcome.plan, outcome.text, view.total_ms)
    return {"record": record, "view": view, "recent": PlanRecord.objects.of(key, lesson)}


def _explainable(parsed: list[statements.Statement]) -> statements.Statement:
    if len(parsed) != 1:
        raise statements.StatementRefused(
            f"Explain takes exactly one statement (this has {len(parsed)}); select the one "
            "you want explained or run the others first.",
            min(len(parsed) - 1, 1),
        )
    statement = parsed[0]
    if statement.kind == "ExplainStmt":
        raise statements.StatementRefused(
            "Write the statement without EXPLAIN: the Explain button adds "
            "EXPLAIN (ANALYZE, BUFFERS) itself.",
            0,
            statement.offset + 1,
        )
    if not statement.explainable:
        raise statements.StatementRefused(
            "Only queries and data changes (SELECT, INSERT, UPDATE, DELETE, MERGE, "
            "CREATE TABLE AS, EXECUTE) have a plan to explain.",
            0,
            statement.offset + 1,
        )
    return statement


@sandbox_api
def reset(request: HttpRequest, data: dict, sandbox: Sandbox, key: str) -> HttpResponse:
    if not sandbox.just_made:  # a sandbox made for this request is already at the start
        sandbox.reset()
    return _answer(request, {"ok": True, "error": None}, "reset")


@sandbox_api
def schema(request: HttpRequest, data: dict, sandbox: Sandbox, key: str) -> HttpResponse:
    """The learner's own tables and columns (``{"ok", "tables": [{"name", "columns"}]}``), read
    from their sandbox's catalog for the editor's completion. JSON only; it counts as a run."""
    found = catalog.tables(sandbox.server, sandbox.name)
    return JsonResponse({"ok": True, "tables": [table.as_json() for table in found]})


@require_GET
def lesson_sandbox(request: HttpRequest, track: str, slug: str) -> HttpResponse:
    """The sandbox of one lesson on a page of its own (the lesson page includes the same
    fragment, templates/sandbox/_sandbox.html)."""
    try:
        lesson = Lesson.objects.by_ref(f"{track}/{slug}")
    except Lesson.DoesNotExist:
        raise Http404("No such lesson") from None
    if lesson.mode != Lesson.Mode.SQL_SANDBOX:
        raise Http404("This lesson has no sandbox")
    return render(request, "sandbox/lesson.html", {"lesson": lesson})


# -- before and after ----------------------------------------------------------------------------


@never_cache
@require_GET
def compare_plans(request: HttpRequest) -> HttpResponse:
    """Two of the learner's kept plans side by side (``?lesson=<ref>&before=<id>&after=<id>``)."""
    key = learner_key(request)
    kept = PlanRecord.objects.filter(learner_key=key)
    try:
        before = kept.get(pk=int(request.GET.get("before", "")))
        after = kept.get(pk=int(request.GET.get("after", "")))
    except (ValueError, PlanRecord.DoesNotExist):
        return _failure(request, "Pick two of your recent plans to compare.", 400)
    first, second = plans.parse(before.plan), plans.parse(after.plan)
    change = plans.compare(first, second)
    if not request.htmx:
        return JsonResponse(
            {
                "ok": True,
                "before_ms": change.before_ms,
                "after_ms": change.after_ms,
                "before_rows_read": change.before_rows_read,
                "after_rows_read": change.after_rows_read,
                "removed": change.removed,
                "added": change.added,
            }
        )
    context = {"before": before, "after": after, "first": first, "second": second}
    return render(request, "sandbox/_plan.html#compare", {**context, "change": change})


# -- graded exercises ----------------------------------------------------------------------------


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
        exercise = _exercise(data)
        if exercise.lesson.mode == Lesson.Mode.DJANGO_LAB:
            raise BadRequest("This exercise is a Django ORM lab exercise: use /api/lab/check.")
        sql = _sql(data)
        key = learner_key(request)
        with _share.taken(), admitted(key, servers.server_for("grader")):
            attempt, verdict = ExerciseAttempt.grade(key, exercise, sql)
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
    return verdict_response(request, exercise, key, verdict)


def verdict_response(request: HttpRequest, exercise, key: str, verdict, **extra) -> HttpResponse:
    """The answer to a graded attempt, SQL or lab (``extra`` adds the lab's keys): on a pass,
    the solution, and the lesson's progress recorded."""
    payload = {"ok": True, **verdict.as_json(), "exercise": exercise.key, **extra}
    payload["plan_checked"] = bool(exercise.plan_checks)
    if verdict.passed:
        payload["solution"] = exercise.solution_sql
        payload["solution_html"] = _solution_html(exercise)
        lesson = exercise.lesson
        LessonProgress.objects.exercise_passed(
            learner_for(request, create=True),
            lesson,
            all_passed=ExerciseAttempt.passed_all(key, lesson),
        )
    response = _exercise_answer(request, payload, "verdict")
    if verdict.passed:
        trigger_client_event(response, "progressChanged")
    return response


@never_cache
@require_POST
def exercise_solution(request: HttpRequest) -> HttpResponse:
    """Show the solution on explicit request; the request is recorded."""
    try:
        exercise = _exercise(_payload(request))
    except BadRequest as exc:
        return _exercise_answer(request, {"ok": False, "error": str(exc)}, "problem", 400)
    ExerciseAttempt.objects.create(
        learner_key=learner_key(request), exercise=exercise, kind=ExerciseAttempt.Kind.SOLUTION
    )
    payload = {
        "ok": True,
        "solution": exercise.solution_sql,
        "solution_html": _solution_html(exercise),
        "revealed": True,
    }
    return _exercise_answer(request, payload, "solution")


def _solution_html(exercise) -> str:
    from lessons.content import code_block_html

    # A Django ORM lab exercise's solution is Python.
    language = "python" if exercise.lesson.mode == Lesson.Mode.DJANGO_LAB else "sql"
    return code_block_html(exercise.solution_sql, language)
