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
import threading
import time
from collections.abc import Iterator
from functools import wraps

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from lessons.learners import learner_for, visitor_id
from lessons.models import Lesson
from sandbox import (
    catalog,
    connections,
    plan_advice,
    plans,
    preview,
    runner,
    servers,
    shares,
    statements,
)
from sandbox.models import (
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
    if "draft" in data:  # the staff preview of a draft (sandbox/preview.py)
        try:
            draft = preview.draft_sandbox(request, data)
        except preview.DraftProblem as exc:
            raise BadRequest(str(exc)) from None
        learner_id = learner_for(request, create=True).pk
        held.enter_context(admitted(learner_id, servers.server_for("grader")))
        return view(request, data, draft, learner_id)
    ref = _lesson_ref(data)
    user_id = request.user.pk if request.user.is_authenticated else None
    # The Learner id the session holds is checked against the user by the admission
    # statement itself: no query of its own on every run.
    admission = admit(visitor_id(request), user_id, ref)
    if admission is None:  # a visitor's first run, or a session without its learner's id
        admission = admit(learner_for(request, create=True).pk, user_id, ref)
    if admission is None:  # signed in or out in another tab between the two
        raise BadRequest("Your session changed while this was sent; please try again.")
    lesson, sandbox = held.enter_context(admission_held(admission))
    learner_id = admission.learner_id
    if sandbox is not None:
        return view(request, data, sandbox, learner_id)
    # The learner's first run of this lesson (already counted above; no slot taken yet).
    lesson = _sandbox_lesson(ref, lesson)
    server = servers.server_for(servers.learner_placement(learner_id))
    held.enter_context(run_slot(server))
    sandbox = Sandbox.objects.make_for_learner(learner_id, lesson)
    return view(request, data, sandbox, learner_id)


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
def run(request: HttpRequest, data: dict, sandbox: Sandbox, learner_id: int) -> HttpResponse:
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
        **_data_changed(sandbox),
    }
    return _answer(request, payload, "results", context=context)


DATA_CHANGED = (
    "This lesson's data has changed since your sandbox was made. Your tables stay as they are "
    "until you reset the sandbox, which gives you the lesson's new starting data (and drops "
    "your own tables and changes)."
)


def _data_changed(sandbox: Sandbox) -> dict:
    """``data_changed`` (and ``data_changed_message``) for an answer: whether the lesson's
    fixture changed since the learner's sandbox was seeded."""
    changed = not sandbox.just_made and sandbox.data_changed()
    return {"data_changed": changed, **({"data_changed_message": DATA_CHANGED} if changed else {})}


@sandbox_api
def explain(request: HttpRequest, data: dict, sandbox: Sandbox, learner_id: int) -> HttpResponse:
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
        **_data_changed(sandbox),
    }
    if outcome.error is None and outcome.plan and not getattr(sandbox, "keeps_plans", True):
        context["view"] = plans.parse(outcome.plan)  # a draft's: nothing is kept
    elif outcome.error is None and outcome.plan:
        context.update(_kept_plan(learner_id, lesson, statement.text, outcome))
        payload["plan_id"] = context["record"].pk
        payload["advice"] = [finding.as_json() for finding in context["advice"]]
    return _answer(request, payload, "plan", context=context)


def _kept_plan(learner_id: int, lesson: Lesson, sql: str, outcome: runner.ExplainOutcome) -> dict:
    """Keep the plan for before/after, and what the plan view shows of it."""
    view = plans.parse(outcome.plan)
    record = PlanRecord.keep(learner_id, lesson, sql, outcome.plan, outcome.text, view.total_ms)
    advice = plan_advice.advise(outcome.plan, outcome.indexes)
    shares.remember_advice(record.pk, advice)
    recent = PlanRecord.objects.of(learner_id, lesson)
    return {"record": record, "view": view, "recent": recent, "advice": advice}


def _explainable(parsed: list[statements.Statement]) -> statements.Statement:
    if len(parsed) != 1:
        if any(statement.kind == "VariableSetStmt" for statement in parsed[:-1]):
            # A setting lasts one run, so "run the others first" would not keep it.
            raise statements.StatementRefused(
                f"Explain takes exactly one statement (this has {len(parsed)}), and a SET "
                "lasts only for the run it is in: to see the plan under that setting, press "
                "Run with the SET followed by EXPLAIN (ANALYZE) and your query.",
                min(len(parsed) - 1, 1),
            )
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
def reset(request: HttpRequest, data: dict, sandbox: Sandbox, learner_id: int) -> HttpResponse:
    if not sandbox.just_made:  # a sandbox made for this request is already at the start
        sandbox.reset()
    return _answer(request, {"ok": True, "error": None}, "reset")


@never_cache
@require_GET
def sandbox_status(request: HttpRequest) -> HttpResponse:
    """``GET /api/sandbox/status?lesson=<track>/<slug>``: whether the learner has a sandbox for
    the lesson and whether its data changed since it was seeded (``data_changed``). Makes no
    sandbox and no session; the lesson page asks it on load to offer a reset."""
    ref = request.GET.get("lesson", "")
    learner = learner_for(request, create=False)  # a visitor who has none gets none
    sandbox = Sandbox.objects.of_learner(learner.pk, ref) if learner and "/" in ref else None
    payload = {"ok": True, "has_sandbox": sandbox is not None, "data_changed": False}
    if sandbox is not None:
        payload.update(_data_changed(sandbox))
    context = {"lesson": sandbox.lesson if sandbox else None}
    return _answer(request, payload, "data-changed", context=context)


@sandbox_api
def schema(request: HttpRequest, data: dict, sandbox: Sandbox, learner_id: int) -> HttpResponse:
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
    learner = learner_for(request, create=False)
    kept = PlanRecord.objects.filter(learner=learner) if learner else PlanRecord.objects.none()
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
    context["advice_before"] = shares.advice_for(before)
    context["advice_after"] = shares.advice_for(after)
    return render(request, "sandbox/_plan.html#compare", {**context, "change": change})


# -- graded exercises ----------------------------------------------------------------------------
