"""The only module that talks to the sandbox database (see shared/SANDBOX.md)."""

from __future__ import annotations

import psycopg
from django.conf import settings


def sandbox_urls() -> list[str]:
    """The sandbox servers, from SANDBOX_DATABASE_URL (a comma-separated list is allowed)."""
    return [url.strip() for url in settings.SANDBOX_DATABASE_URL.split(",") if url.strip()]


def ping(timeout_seconds: int = 2) -> str | None:
    """None when every sandbox server answers, else a short description of the first failure."""
    for url in sandbox_urls():
        try:
            with psycopg.connect(url, connect_timeout=timeout_seconds, autocommit=True) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None
