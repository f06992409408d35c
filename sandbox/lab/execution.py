"""What a lab child does with one request, after ``worker`` has limited it: connect as the
learner's role (wall 3), run the restricted code (wall 1), record every statement, and answer.

Requests (from ``client``):

- ``{"op": "run", "db": {...}, "options": str, "models": str, "code": str, "limits": {...}}``
- ``{"op": "grade", ..., "answer": str, "solution": str, "setups": [str], "explain": bool}``:
  inside one transaction that is rolled back, for each setup (``""`` = the fixture as seeded)
  run the solution and the answer from a savepoint, and answer both results and statements.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

from sandbox.lab import warm
from sandbox.lab.recorder import Recorder
from sandbox.lab.repeats import repeated
from sandbox.lab.results import result_table, table_of

_state: dict[str, Any] = {}


class _Finished(BaseException):
    pass


def handle(request: dict, deliver, reused: bool = False) -> dict:
    """Answer one request. ``deliver`` sends an answer at once: a run that reaches a bound is
    answered and the child exits there, whatever ``try``/``except`` the learner wrapped
    around the statement or print that crossed it."""
    _state["deliver"] = deliver
    if reused:
        # A keeper's connection, used by this learner's previous run: back to how it was at
        # login (settings, prepared statements, temporary state; the startup-option limits).
        from django.db import connection

        try:
            connection.connection.execute("DISCARD ALL")
        except Exception:
            # The kept connection died (the server restarted, the sandbox was reset and its
            # sessions ended): this run connects afresh, and the keeper drops the old one.
            _state["reconnected"] = True
            try:
                connection.close()
            except Exception:
                connection.connection = None
    op = request.get("op")
    try:
        if op == "run":
            return _run(request)
        if op == "grade":
            return _grade(request)
        return _error_answer("request", f"unknown op {op!r}")
    except _Finished:
        return _state["answer"]


# -- one run ---------------------------------------------------------------------------------------


def _limits(request: dict) -> dict:
    return request.get("limits") or {}


def _connect(request: dict) -> None:
    from sandbox.lab import djangoenv

    _state["statement_timeout_ms"] = _limits(request).get("statement_timeout_ms", 0)
    djangoenv.use_role(request["db"], request["options"])


def _finish_with(answer_of):
    """A limit handler: build the answer from what was recorded so far and end the run."""

    def on_limit(bound: str, message: str) -> None:
        answer = answer_of()
        answer["ok"] = False
        answer["error"] = {"type": "LimitExceeded", "message": message, "line": None}
        answer["bound"] = bound
        _state["answer"] = answer
        deliver = _state.get("deliver")
        if deliver is not None:
            deliver(answer)
            os._exit(3)  # answered; the connection may be mid-statement: not kept (keeper.DIRTY)
        raise _Finished

    return on_limit


def _namespace(request: dict, output):
    from sandbox.lab import restricted

    return restricted.namespace(warm.lab_names(request["models"]), output)


def execute_code(code: str, request: dict, recorder: Recorder, output) -> tuple[Any, dict | None]:
    """Compile and run ``code``; return (value of its last expression, error or None)."""
    from sandbox.lab import restricted

    try:
        compiled = warm.compiled_code(code)
    except restricted.CompileProblem as exc:
        return None, {"type": "NotAllowed", "message": exc.message, "line": exc.line}
    names = _namespace(request, output)
    try:
        exec(compiled, names)  # noqa: S102 - restricted code, see restricted.py
    except _Finished:
        raise
    except restricted.LimitHit:
        raise
    except RecursionError:
        return None, {
            "type": "LimitExceeded",
            "message": "Recursion limit: calls may nest at most "
            f"{_limits(request).get('recursion', 200)} deep.",
            "line": _line_of_error(),
        }
    except MemoryError:
        return None, {
            "type": "LimitExceeded",
            "message": f"Memory limit: a lab run may use at most "
            f"{_limits(request).get('memory_mb', 512)} MB.",
            "line": None,
        }
    except Exception as exc:
        return None, _exception_json(exc)
    return names.get(restricted.RESULT_NAME), None


def _exception_json(exc: BaseException) -> dict:
    from sandbox.lab import restricted

    kind = type(exc).__name__
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else kind
    if isinstance(exc, restricted.Refused):
        kind = "NotAllowed"
    elif "temp_file_limit" in message:
        kind = "LimitExceeded"
        message = (
            f"Temp file limit: a statement may not spill more to disk. (PostgreSQL: {message})"
        )
    elif "canceling statement due to statement timeout" in message:
        seconds = int(_state.get("statement_timeout_ms", 0)) / 1000
        kind = "LimitExceeded"
        message = (
            f"Statement timeout: a statement may run for at most {seconds:g} s. "
            f"(PostgreSQL: {message})"
        )
    return {"type": kind, "message": message[:2000], "line": _line_of_error(exc)}


def _line_of_error(exc: BaseException | None = None) -> int | None:
    tb = exc.__traceback__ if exc is not None else sys.exc_info()[2]
    line = None
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename == "<lab>":
            line = lineno
    return line


def _run(request: dict) -> dict:
    from django.db import connection

    from sandbox.lab import restricted

    limits = _limits(request)
    sys.setrecursionlimit(int(limits.get("recursion", 200)) + 60)
    _connect(request)
    answer: dict[str, Any] = {}
    recorder: Recorder

    def partial() -> dict:
        return _answer(output.text(), None, recorder.queries, None, limits)

    on_limit = _finish_with(partial)
    output = restricted.Output(int(limits.get("max_output", 65536)), on_limit)
    recorder = Recorder(int(limits.get("max_queries", 100)), grading=False, on_limit=on_limit)
    with connection.execute_wrapper(recorder):
        value, error = execute_code(request["code"], request, recorder, output)
        table, error = _table(value, error, int(limits.get("max_rows", 100)))
    answer = _answer(output.text(), table, recorder.queries, error, limits)
    return answer


def _table(value: Any, error: dict | None, max_rows: int) -> tuple[dict | None, dict | None]:
    """The result table of a run's last value (which may send queries: a queryset), unless
    the run failed; or the error making it raised."""
    if error is not None:
        return None, error
    try:
        return result_table(value, max_rows), None
    except _Finished:
        raise
    except Exception as exc:
        return None, _exception_json(exc)


def _answer(output: str, table, queries: list[dict], error: dict | None, limits: dict) -> dict:
    import django

    return {
        # The lab runs the site's own Django (5.2 LTS): no QuerySet.fetch_mode() (6.1).
        "django": django.get_version(),
        "ok": error is None,
        "output": output,
        "result": table,
        "queries": queries,
        "repeated": repeated(queries),
        "error": error,
        "bound": _bound_of(error),
    }


# The limits an error of the run's own names (messages written in this module), by the start
# of its message: an uncaught statement timeout or memory error stopped the run.
_BOUNDS = {
    "Statement timeout": "statement_timeout",
    "Temp file limit": "temp_file_limit",
    "Memory limit": "memory",
    "Recursion limit": "recursion",
}


def _bound_of(error: dict | None) -> str | None:
    if not error or error.get("type") != "LimitExceeded":
        return None
    message = error.get("message") or ""
    return next((bound for start, bound in _BOUNDS.items() if message.startswith(start)), None)


def _error_answer(kind: str, message: str) -> dict:
    return _answer("", None, [], {"type": kind, "message": message, "line": None}, {})


# -- grading ---------------------------------------------------------------------------------------


def _grade(request: dict) -> dict:
    """Solution and answer on each setup, in one transaction that is rolled back."""
    from django.db import transaction

    sys.setrecursionlimit(int(_limits(request).get("recursion", 200)) + 60)
    _connect(request)
    sets: list[dict] = []
    current: dict[str, Any] = {}  # the side running now and its statements, for a bound
    on_limit = _finish_with(lambda: {"ok": False, "sets": sets, "current": current})
    try:
        with transaction.atomic():
            for setup in request["setups"]:
                sets.append(_grade_setup(request, setup, not sets, on_limit, current))
            transaction.set_rollback(True)
    except _Finished:
        raise
    except Exception as exc:
        return {"ok": False, "sets": sets, "error": _exception_json(exc)}
    return {"ok": True, "sets": sets, "error": None}


def _grade_setup(request: dict, setup: str, first: bool, on_limit, current: dict) -> dict:
    """The solution, then the answer, each from the same savepoint after ``setup`` (the
    fixture as seeded when empty); all of it rolled back after. On the first setup, with
    ``explain``, the plans of the answer's statements too."""
    from django.db import connection, transaction

    fresh = transaction.savepoint()
    if setup.strip():
        with connection.cursor() as cursor:
            cursor.execute(setup)
    seeded = transaction.savepoint()
    outcome: dict[str, Any] = {}
    for side in ("solution", "answer"):
        outcome[side] = _grade_side(request, side, on_limit, current)
        if side == "answer" and first and request.get("explain") and not outcome[side]["error"]:
            outcome["plans"] = _explain_all(outcome[side]["queries"])
        if connection.needs_rollback:
            break
        transaction.savepoint_rollback(seeded)
        seeded = transaction.savepoint()
    if connection.needs_rollback:
        # The code caught a database error with no atomic() block of its own (`try: create()
        # except IntegrityError`), inside Check's transaction: Django refuses every query until
        # a rollback, and going back to a savepoint taken before the code is one (Django's own
        # Atomic.__exit__ clears the flag the same way). Its error is already in its outcome.
        connection.needs_rollback = False
    transaction.savepoint_rollback(fresh)
    return outcome


def _grade_side(request: dict, side: str, on_limit, current: dict) -> dict:
    """Run ``request[side]`` (the solution or the answer): its result (or printed lines),
    error, output and statements."""
    from django.db import connection

    from sandbox.lab import restricted

    limits = _limits(request)
    max_rows = int(limits.get("check_max_rows", 5000))
    output = restricted.Output(int(limits.get("max_output", 65536)), on_limit)
    recorder = Recorder(int(limits.get("max_queries", 100)), grading=True, on_limit=on_limit)
    current.clear()
    current.update(side=side, queries=recorder.queries)
    with connection.execute_wrapper(recorder):
        value, error = execute_code(request[side], request, recorder, output)
        table, error = _table(value, error, max_rows)
    if error is None and not table and output.text():
        table = table_of(["output"], [[line] for line in output.text().splitlines()], max_rows)
    return {
        "result": table,
        "error": error,
        "output": output.text()[:10000],
        "queries": recorder.queries,
        "repeated": repeated(recorder.queries),
    }


def _explain_all(queries: list[dict]) -> list:
    """EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) of each SELECT the answer sent, in a savepoint
    that is rolled back (ANALYZE runs the statement; VERBOSE names each table's schema, for
    max_rows_read)."""
    import json

    from django.db import connection, transaction

    plans = []
    for query in queries[:20]:
        if not query["sql"].lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        point = transaction.savepoint()
        try:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) " + query["sql"])
                row = cursor.fetchone()
            plan = row[0] if row else None
            plans.append(json.loads(plan) if isinstance(plan, str) else plan)
        except Exception:
            plans.append(None)
        transaction.savepoint_rollback(point)
    return plans


# -- keepers (keeper.keeper_life): one learner role's connection, kept between runs --------------


def keep_connection(request: dict) -> bool:
    """Connect as the request's role in the keeper, unless already connected so; whether the
    connection was used before (the run then starts with DISCARD ALL)."""
    from django.db import connection

    from sandbox.lab import djangoenv

    key = (sorted(request["db"].items()), request["options"])
    if _state.get("kept") == key and connection.connection is not None:
        return True
    drop_connection()
    djangoenv.use_role(request["db"], request["options"])
    connection.ensure_connection()
    if connection.connection.pgconn.ssl_in_use:
        # TLS state would not survive being used by another process: no keeping.
        drop_connection()
        return False
    _state["kept"] = key
    return False


def drop_connection() -> None:
    from django.db import connection

    _state.pop("kept", None)
    try:
        connection.close()
    except Exception:
        connection.connection = None


def connection_clean() -> bool:
    """Whether this run left its connection idle and sound (a keeper may give it to the next)."""
    from django.db import connection
    from psycopg.pq import TransactionStatus

    conn = connection.connection
    return (
        not _state.get("reconnected")
        and conn is not None
        and not conn.closed
        and not conn.broken
        and conn.info.transaction_status == TransactionStatus.IDLE
        and not connection.in_atomic_block
    )
