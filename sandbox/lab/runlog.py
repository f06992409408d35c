"""Lab runs in ``/metrics`` and the run log, as SQL runs are (``Sandbox._record``): the counters
of ``sandbox/metrics.py`` with ``kind="lab"``, and one line per run on the run log's logger
with the bounds it hit. Never the learner's code at INFO: its length and a hash say enough."""

from __future__ import annotations

import hashlib
import logging
import time

from config.infra import logs
from sandbox import metrics

# The SQL runs' logger (sandbox/models/records.py): one run log for both.
log = logging.getLogger("sandbox.models")

KIND = "lab"


def bounds_of(answer: dict) -> list[str]:
    """The bounds a lab run hit: the one that stopped it, and ``rows`` when its result was
    cut at SANDBOX_MAX_ROWS (as for SQL runs)."""
    bounds = [answer["bound"]] if answer.get("bound") else []
    if (answer.get("result") or {}).get("truncated"):
        bounds.append("rows")
    return bounds


def record(sandbox, code: str, started: float, answer: dict, disk_bytes: int | None) -> None:
    """Count a lab run that reached the worker and write its line (once the response has
    been sent, like the SQL runs' lines)."""
    bounds = bounds_of(answer)
    metrics.count_run(KIND, bounds)
    error = answer.get("error") or {}
    result = answer.get("result") or {}
    logs.info_later(
        log,
        "sandbox %s %s",
        KIND,
        "ok" if answer.get("ok") else f"error {error.get('type')}",
        extra={
            "kind": KIND,
            "sandbox": sandbox.name,
            "server": sandbox.server,
            "lesson": sandbox.lesson.ref if sandbox.lesson else None,
            "statements": len(answer.get("queries") or []),
            "code_chars": len(code),
            "code_sha256": hashlib.sha256(code.encode()).hexdigest()[:16],
            "ms": round((time.perf_counter() - started) * 1000, 2),
            "ok": bool(answer.get("ok")),
            "error_type": error.get("type"),
            "bounds": bounds,
            "rows": len(result.get("rows") or []),
            "disk_bytes": disk_bytes,
        },
    )
    log.debug("sandbox %s code: %s", KIND, code)
