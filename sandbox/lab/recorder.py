"""Every statement a lab run sends, recorded as Django sends it (``execute_wrapper``)."""

from __future__ import annotations

import time

from sandbox.lab.results import json_value


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
