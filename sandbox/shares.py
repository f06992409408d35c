"""Making shared snapshots (``sandbox.models.Share``): what may be shared, checked and bounded.

A result snapshot is the result as the learner's page showed it, sent back by the page (or a
JSON client): it is checked for shape, and rows are cut from the end, marked, until it fits in
``SANDBOX_SHARE_MAX_BYTES``. Sending made-up rows gains nothing over ``SELECT 'made up'`` in
one's own sandbox, and the page escapes everything. A plan snapshot is one of the learner's
own kept plans (``PlanRecord``), with the advice shown under it when it was explained (kept
for a day in the cache by ``remember_advice``; else computed again without the indexes).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.cache import cache

from sandbox import plan_advice

_SCALARS = (str, int, float, bool, type(None))
ADVICE_CACHE_SECONDS = 24 * 3600


class ShareRefused(ValueError):
    """A snapshot that cannot be made, with the message for the learner."""


def _advice_key(plan_id: int) -> str:
    return f"sandbox:plan-advice:{plan_id}"


def remember_advice(plan_id: int, advice: list[plan_advice.Finding]) -> None:
    """Keep the advice shown under a plan, so that sharing it later shares the same advice."""
    cache.set(_advice_key(plan_id), [f.as_json() for f in advice], ADVICE_CACHE_SECONDS)


def advice_for(record) -> list[dict]:
    """The advice shown under a kept plan (a ``PlanRecord``) when it was explained, or, after a
    day, computed again without the learner's indexes."""
    advice = cache.get(_advice_key(record.pk))
    if advice is None:
        advice = [f.as_json() for f in plan_advice.advise(record.plan, None)]
    return advice


def plan_snapshot(record) -> dict:
    """The snapshot of one kept plan (a ``PlanRecord``) and its advice."""
    snapshot = {"plan": record.plan, "text": record.text, "advice": advice_for(record)}
    if len(json.dumps(snapshot)) > settings.SANDBOX_SHARE_MAX_BYTES:
        raise ShareRefused(
            f"This plan is too large to share (more than {settings.SANDBOX_SHARE_MAX_BYTES:,} "
            "bytes)."
        )
    return snapshot


def result_snapshot(results: Any) -> dict:
    """The snapshot of a run's results as shown, checked and cut to size."""
    if isinstance(results, str):
        try:
            results = json.loads(results)
        except ValueError:
            raise ShareRefused('"results" is not valid JSON.') from None
    if not isinstance(results, list) or not results:
        raise ShareRefused('"results" must be a non-empty list of results.')
    if len(results) > settings.SANDBOX_MAX_STATEMENTS:
        raise ShareRefused(f"At most {settings.SANDBOX_MAX_STATEMENTS} results can be shared.")
    # Checked copies (the rows lists too): cutting them must not touch what the caller holds.
    checked = [_checked_result(result, index) for index, result in enumerate(results)]
    return {"results": _cut_to_size(checked)}


def _checked_result(result: Any, index: int) -> dict:
    where = f"result {index + 1}"
    if not isinstance(result, dict):
        raise ShareRefused(f"{where} must be an object.")
    columns, types, rows = (
        result.get("columns", []),
        result.get("types", []),
        result.get("rows", []),
    )
    if not _strings(columns) or not _strings(types) or len(types) != len(columns):
        raise ShareRefused(f"{where}: columns and types must be lists of text of one length.")
    if not isinstance(rows, list) or not all(
        isinstance(row, list)
        and len(row) == len(columns)
        and all(isinstance(value, _SCALARS) for value in row)
        for row in rows
    ):
        raise ShareRefused(f"{where}: rows must be lists of plain values, one per column.")
    statement, rowcount = result.get("statement", ""), result.get("rowcount", len(rows))
    elapsed = result.get("elapsed_ms", 0)
    if not isinstance(statement, str) or len(statement) > settings.SANDBOX_MAX_SQL_LENGTH:
        raise ShareRefused(f"{where}: the statement must be text of a bounded length.")
    if not isinstance(rowcount, int) or not isinstance(elapsed, (int, float)):
        raise ShareRefused(f"{where}: rowcount and elapsed_ms must be numbers.")
    return {
        "statement": statement,
        "columns": columns,
        "types": types,
        "rows": list(rows),
        "rowcount": rowcount,
        "truncated": bool(result.get("truncated", False)),
        "elapsed_ms": float(elapsed),
        "shortened": bool(result.get("shortened", False)),
    }


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _cut_to_size(results: list[dict]) -> list[dict]:
    """Drop rows from the end (last result first) until the whole fits, marking what was cut:
    a huge result is shared truncated, as the page shows truncated results."""
    limit = settings.SANDBOX_SHARE_MAX_BYTES
    size = len(json.dumps(results))
    for result in reversed(results):
        rows = result["rows"]
        while rows and size > limit:
            # Cut about as many rows as the excess holds (at least one), then measure again.
            per_row = max(1, len(json.dumps(rows)) // len(rows))
            cut = min(len(rows), (size - limit) // per_row + 1)
            del rows[-cut:]
            result["shortened"] = result["truncated"] = True
            size = len(json.dumps(results))
    if len(json.dumps(results)) > limit:
        raise ShareRefused(
            f"This result is too large to share, even without its rows (more than {limit:,} bytes)."
        )
    return results
