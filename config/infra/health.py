"""``/healthz``: the app database, plus the checks features register.

A check is a function that returns None when its part works, else a short reason; features
register theirs from ``AppConfig.ready()`` (the sandbox: its servers, from the status it
caches). A check must answer quickly: a load balancer calls ``/healthz`` every few seconds.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import DatabaseError, connection

_checks: dict[str, Callable[[], str | None]] = {}


def register_check(name: str, check: Callable[[], str | None]) -> None:
    """Report ``check()`` under ``name`` in ``/healthz``: None means fine, else why not."""
    _checks[name] = check


def database_problem() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
    return None


def run_checks() -> dict[str, str]:
    """``{"database": "ok", "<name>": "ok" | "down: <reason>", …}``, the database first."""
    results = {}
    for name, check in {"database": database_problem, **_checks}.items():
        problem = check()
        results[name] = "ok" if problem is None else f"down: {problem}"
    return results
