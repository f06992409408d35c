"""Running management commands with configuration errors told plainly, not as tracebacks."""

from __future__ import annotations

import os
import sys


def explain_startup_error(exc: BaseException) -> str | None:
    """A one-paragraph message for errors a person fixes in their configuration, else None."""
    from django.core.exceptions import ImproperlyConfigured

    from config.infra.embedded import EmbeddedDatabaseError

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


# Commands that work without the app database; every other command starts the embedded
# servers it is configured with and checks the app database first. `db` starts them itself
# (`db start`), or must not (`db stop`, `db status`).
NO_DATABASE_COMMANDS = {
    "db",
    "check",
    "help",
    "version",
    "makemigrations",
    "collectstatic",
    "startapp",
    "compilemessages",
    "makemessages",
    "diffsettings",
    "--help",
    "-h",
    "--version",
}


def check_app_database() -> None:
    """Connect once, directly and quickly, so an unreachable server is reported at once."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    try:
        psycopg.connect(
            dbname=db["NAME"],
            user=db.get("USER") or None,
            password=db.get("PASSWORD") or None,
            host=db.get("HOST") or None,
            port=db.get("PORT") or None,
            connect_timeout=db.get("OPTIONS", {}).get("connect_timeout", 5),
        ).close()
    except psycopg.OperationalError as exc:
        raise psycopg.OperationalError(
            f"{db.get('HOST')}:{db.get('PORT')}/{db['NAME']}: " + " ".join(str(exc).split())
        ) from None


def run_command_line(argv: list[str]) -> None:
    """``manage.py``: start what the command needs (the embedded servers of unset URLs, for
    every command that uses the database), then run it, reporting configuration errors in a
    sentence."""
    from django.core.management import execute_from_command_line

    from config.infra import embedded

    try:
        if len(argv) > 1 and argv[1] not in NO_DATABASE_COMMANDS:
            # Before the settings are read: they take the embedded servers' URLs as they run.
            embedded.prepare()
            check_app_database()
        execute_from_command_line(argv)
    except Exception as exc:
        message = explain_startup_error(exc)
        if message is None or os.environ.get("QUERYLAB_TRACEBACK"):
            raise
        print(message, file=sys.stderr)
        sys.exit(2)
