"""What a lab child does with one request, after ``worker`` has limited it: connect as the
learner's role (wall 3), run the restricted code (wall 1), record every statement, and answer.

Requests (from ``client``):

- ``{"op": "run", "db": {...}, "options": str, "models": str, "code": str, "limits": {...}}``
- ``{"op": "grade", ..., "answer": str, "solution": str, "setups": [str], "explain": bool}``:
  inside one transaction that is rolled back, for each setup (``""`` = the fixture as seeded)
  run the solution and the answer from a savepoint, and answer both results and statements.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
import traceback
from typing import Any

from sandbox.lab.repeats import repeated
from sandbox.lab.results import json_value, result_table, table_of

_state: dict[str, Any] = {}


class _Finished(BaseException):
    pass


def warm_up() -> None:
    """Import and exercise what a run needs, in the warm parent: children fork with it loaded
    (and a child that dropped privileges may not be able to read the files any more)."""
    import json  # noqa: F401

    import pglast  # noqa: F401
    import psycopg  # noqa: F401
    from django.contrib.postgres import aggregates, search  # noqa: F401
    from django.db import connection  # noqa: F401
    from django.db.backends.postgresql import (  # noqa: F401  # noqa: F401
        base,
        creation,
        features,
        introspection,
        operations,
        schema,
    )
    from django.db.models import functions  # noqa: F401
    from django.db.models.sql import compiler, subqueries  # noqa: F401

    from sandbox.lab import restricted

    code = restricted.compile_code("x = [1]\nfor y in x:\n    print(y)\nx")
    output = restricted.Output(100, lambda bound, message: None)
    exec(code, restricted.namespace(restricted.lab_names({}, {}), output))  # noqa: S102
    import traceback  # noqa: F401

    pglast.fingerprint("SELECT 1")
    pglast.parse_sql("SELECT 1")
    import encodings.idna  # noqa: F401
    import encodings.latin_1  # noqa: F401
    import json.decoder  # noqa: F401
    import json.encoder  # noqa: F401

    "é".encode("latin-1")
    import _strptime  # noqa: F401 - date/datetime parsing imports it on first use
    import calendar  # noqa: F401
    import time  # noqa: F401

    _warm_models()


def _warm_models() -> None:
    """Fill the caches Django builds on first use (each model's fields and relations, the
    compilers' SQL paths), so that children inherit them instead of each building them again;
    and the allow-list of each model module. No database is needed for any of it."""
    import sys

    from django.apps import apps
    from django.db.models import Count

    from sandbox.lab import djangoenv

    for name in list(sys.modules):
        if name.startswith(djangoenv.APP_MODULE + ".") and name.count(".") == 3:
            lab_names(name.rsplit(".", 1)[1])
    for model in apps.get_app_config("lab").get_models():
        manager = model._default_manager
        str(manager.all().query)
        str(manager.filter(pk=1).order_by("pk")[:20].query)
        relations = [f.name for f in model._meta.concrete_fields if f.is_relation]
        if relations:
            str(manager.select_related(*relations).query)
        reverse = [f.get_accessor_name() for f in model._meta.related_objects]
        if reverse:
            str(manager.annotate(n=Count(model._meta.related_objects[0].name)).query)


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


class Recorder:
    """Every statement the run sends: SQL (parameters inlined, ready to EXPLAIN), parameters,
    time, rows, fingerprint. Past ``max_queries`` the run ends. In grading, transaction control
    is refused (a COMMIT would keep data in the shared grader)."""

    def __init__(self, max_queries: int, grading: bool, on_limit):
        self.queries: list[dict] = []
        self.max_queries = max_queries
        self.grading = grading
        self.on_limit = on_limit
        self.paused = False

    def __call__(self, execute, sql, params, many, context):
        from django.db import connection

        text = _composed(connection, sql, params, many)
        if self.paused:
            return execute(sql, params, many, context)
        if len(self.queries) >= self.max_queries:
            self.on_limit(
                "statements",
                f"Statement limit: a lab run may send at most {self.max_queries} statements, "
                "so it was stopped.",
            )
        self._check(text)
        entry = {
            "sql": text,
            "params": _json_params(params),
            "ms": 0.0,
            "rows": None,
            "fingerprint": _fingerprint(text),
        }
        self.queries.append(entry)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            entry["ms"] = round((time.perf_counter() - started) * 1000, 3)
            cursor = context.get("cursor")
            rowcount = getattr(cursor, "rowcount", -1) if cursor is not None else -1
            entry["rows"] = rowcount if rowcount is not None and rowcount >= 0 else None

    def _check(self, text: str) -> None:
        """One statement per call (``raw()`` and ``extra()`` take SQL); when grading, no
        transaction control. SQL that does not parse is the server's to refuse."""
        import pglast

        from sandbox.lab.restricted import Refused

        if not self.grading:
            # pglast.split: the parser's statement boundaries, without building the tree.
            try:
                statements = len(pglast.split(text))
            except Exception:
                statements = 1
            if statements > 1:
                raise Refused(ONE_STATEMENT)
            return
        try:
            parsed = pglast.parse_sql(text)
        except Exception:
            return
        if len(parsed) > 1:
            raise Refused(ONE_STATEMENT)
        if parsed and type(parsed[0].stmt).__name__ == "TransactionStmt":
            from pglast.enums import TransactionStmtKind

            if parsed[0].stmt.kind not in (
                TransactionStmtKind.TRANS_STMT_SAVEPOINT,
                TransactionStmtKind.TRANS_STMT_RELEASE,
                TransactionStmtKind.TRANS_STMT_ROLLBACK_TO,
            ):
                raise Refused(
                    "Leave out BEGIN, COMMIT and ROLLBACK: an answer is checked inside a "
                    "transaction of its own."
                )


ONE_STATEMENT = "One statement at a time: a query may not carry a second statement."


def _composed(connection, sql: str, params, many: bool) -> str:
    if many or params is None:
        return sql if params is None else f"{sql} -- executemany"
    try:
        return connection.ops.compose_sql(sql, params)
    except Exception:
        return sql


def _fingerprint(text: str) -> str:
    import pglast

    try:
        return pglast.fingerprint(text)
    except Exception:
        return ""


def _json_params(params) -> list:
    if params is None:
        return []
    if isinstance(params, dict):
        params = list(params.values())
    out = []
    for value in list(params)[:50]:
        out.append(json_value(value))
    return out


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
            os._exit(3)  # answered; the connection may be mid-statement: not kept (worker.DIRTY)
        raise _Finished

    return on_limit


def _namespace(request: dict, output):
    from sandbox.lab import restricted

    return restricted.namespace(lab_names(request["models"]), output)


def lab_names(models: str) -> dict:
    """The names learner code gets for a model module (``restricted.lab_names``), built once
    per module in the warm worker (``warm_up``): a child only reads them."""
    from sandbox.lab import djangoenv, restricted

    names = _lab_names.get(models)
    if names is None:
        module = sys.modules.get(f"{djangoenv.APP_MODULE}.{models}")
        if module is None:
            raise restricted.Refused(f"The lab has no models {models!r}.")
        names = _lab_names[models] = restricted.lab_names(
            djangoenv.model_classes(module), _exceptions()
        )
    return names


_lab_names: dict[str, dict] = {}


def _exceptions() -> dict[str, type]:
    """The exceptions learner code may name (and catch)."""
    from django.core.exceptions import (
        FieldError,
        MultipleObjectsReturned,
        ObjectDoesNotExist,
        ValidationError,
    )
    from django.db import DatabaseError, DataError, IntegrityError, ProgrammingError

    return {
        "ObjectDoesNotExist": ObjectDoesNotExist,
        "MultipleObjectsReturned": MultipleObjectsReturned,
        "FieldError": FieldError,
        "ValidationError": ValidationError,
        "DatabaseError": DatabaseError,
        "IntegrityError": IntegrityError,
        "DataError": DataError,
        "ProgrammingError": ProgrammingError,
    }


def compiled_code(code: str):
    """``restricted.compile_code(code)``, from the cache when the same code was compiled in
    this process or before the fork that made it (a keeper compiles its learner's code before
    it forks the run: ``precompile``). Raises CompileProblem as compile_code does."""
    from sandbox.lab import restricted

    key = hashlib.sha256(code.encode()).digest()
    found = _compiled.get(key)
    if found is None:
        try:
            found = restricted.compile_code(code)
        except restricted.CompileProblem as exc:
            found = exc
        _compiled[key] = found
        while len(_compiled) > COMPILED_KEPT:
            del _compiled[next(iter(_compiled))]
    if isinstance(found, restricted.CompileProblem):
        raise found
    return found


# Compiled code by the SHA-256 of its source: in a keeper, its one learner's recent code only.
_compiled: dict[bytes, Any] = {}
COMPILED_KEPT = 16


def precompile(request: dict) -> None:
    """In a keeper, before it forks the run: compile the request's code (into ``_compiled``),
    so that the run, and the learner's next runs of the same code, need not. Compiling runs
    nothing; under the run's recursion limit, as in the run. Whatever goes wrong here the
    run meets again, and answers."""
    code = request.get("code")
    if request.get("op") != "run" or not isinstance(code, str):
        return
    depth = sys.getrecursionlimit()
    sys.setrecursionlimit(int(_limits(request).get("recursion", 200)) + 60)
    try:
        compiled_code(code)
    except Exception:  # noqa: S110 - see the docstring
        pass
    finally:
        sys.setrecursionlimit(depth)


def execute_code(code: str, request: dict, recorder: Recorder, output) -> tuple[Any, dict | None]:
    """Compile and run ``code``; return (value of its last expression, error or None)."""
    from sandbox.lab import restricted

    try:
        compiled = compiled_code(code)
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
        table = None
        if error is None:
            try:
                table = result_table(value, int(limits.get("max_rows", 100)))
            except _Finished:
                raise
            except Exception as exc:
                error = _exception_json(exc)
    answer = _answer(output.text(), table, recorder.queries, error, limits)
    return answer


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
        "bound": None,
    }


def _error_answer(kind: str, message: str) -> dict:
    return _answer("", None, [], {"type": kind, "message": message, "line": None}, {})


# -- grading ---------------------------------------------------------------------------------------


def _grade(request: dict) -> dict:
    """Solution and answer on each setup, in one transaction that is rolled back."""
    from django.db import connection, transaction

    from sandbox.lab import restricted

    limits = _limits(request)
    sys.setrecursionlimit(int(limits.get("recursion", 200)) + 60)
    _connect(request)
    sets: list[dict] = []
    current: dict[str, Any] = {}

    def partial() -> dict:
        return {"ok": False, "sets": sets, "current": current}

    on_limit = _finish_with(partial)
    max_queries = int(limits.get("max_queries", 100))
    max_rows = int(limits.get("check_max_rows", 5000))
    try:
        with transaction.atomic():
            for setup in request["setups"]:
                fresh = transaction.savepoint()
                if setup.strip():
                    with connection.cursor() as cursor:
                        cursor.execute(setup)
                seeded = transaction.savepoint()
                outcome: dict[str, Any] = {}
                for side in ("solution", "answer"):
                    output = restricted.Output(int(limits.get("max_output", 65536)), on_limit)
                    recorder = Recorder(max_queries, grading=True, on_limit=on_limit)
                    current = {"side": side, "queries": recorder.queries}
                    with connection.execute_wrapper(recorder):
                        value, error = execute_code(request[side], request, recorder, output)
                        table = None
                        if error is None:
                            try:
                                table = result_table(value, max_rows)
                            except _Finished:
                                raise
                            except Exception as exc:
                                error = _exception_json(exc)
                    if error is None and not table and output.text():
                        table = table_of(
                            ["output"], [[line] for line in output.text().splitlines()], max_rows
                        )
                    outcome[side] = {
                        "result": table,
                        "error": error,
                        "output": output.text()[:10000],
                        "queries": recorder.queries,
                        "repeated": repeated(recorder.queries),
                    }
                    if side == "answer" and not sets and request.get("explain") and not error:
                        outcome["plans"] = _explain_all(recorder.queries)
                    if connection.needs_rollback:
                        break
                    transaction.savepoint_rollback(seeded)
                    seeded = transaction.savepoint()
                sets.append(outcome)
                transaction.savepoint_rollback(fresh)
            transaction.set_rollback(True)
    except _Finished:
        raise
    except Exception as exc:
        return {"ok": False, "sets": sets, "error": _exception_json(exc)}
    return {"ok": True, "sets": sets, "error": None}


def _explain_all(queries: list[dict]) -> list:
    """EXPLAIN (ANALYZE, FORMAT JSON) of each SELECT the answer sent, in a savepoint that is
    rolled back (ANALYZE runs the statement)."""
    import json

    from django.db import connection, transaction

    plans = []
    for query in queries[:20]:
        if not query["sql"].lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        point = transaction.savepoint()
        try:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query["sql"])
                row = cursor.fetchone()
            plan = row[0] if row else None
            plans.append(json.loads(plan) if isinstance(plan, str) else plan)
        except Exception:
            plans.append(None)
        transaction.savepoint_rollback(point)
    return plans


# -- keepers (worker._keeper): one learner role's connection, kept between runs -------------------


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
