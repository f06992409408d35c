"""Running management commands with configuration errors told plainly, not as tracebacks."""

from __future__ import annotations

import os
import sys


def explain_startup_error(exc: BaseException) -> str | None:
    """A one-paragraph message for errors a person fixes in their configuration, else None."""
    from django.core.exceptions import ImproperlyConfigured

    from config.embedded import EmbeddedDatabaseError

    if isinstance(exc, ImproperlyConfigured | EmbeddedDatabaseError):
        return f"Configuration error: {exc}"
    try:
        import psycopg
        from django.db.utils import OperationalError
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, OperationalError | psycopg.OperationalError):
        source = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "the embedded database"
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        return (
            f"Cannot reach the app database ({source}): {first_line}\n"
            "Check that the server is running and that the URL's host, port, user, password "
            "and database name are right."
        )
    return None


def run_command_line(argv: list[str]) -> None:
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(argv)
    except Exception as exc:
        message = explain_startup_error(exc)
        if message is None or os.environ.get("QUERYLAB_TRACEBACK"):
            raise
        print(message, file=sys.stderr)
        sys.exit(2)
