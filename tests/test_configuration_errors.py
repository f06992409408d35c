"""Bad configuration fails fast with a message naming the variable, never a traceback wall."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; a deployment never has it.
    unwanted = {"DATABASE_URL", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    environment = {k: v for k, v in os.environ.items() if k not in unwanted}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "DATABASE_URL could not be parsed"),
        ("mysql://user@host/db", "DATABASE_URL must be a PostgreSQL URL"),
        ("postgresql://postgres@127.0.0.1:5432", "DATABASE_URL names no database"),
    ],
)
def test_it_names_an_unusable_database_url(url, expected):
    result = manage("check", DATABASE_URL=url)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_it_reports_an_unreachable_server_at_once():
    result = manage("migrate", DATABASE_URL="postgresql://postgres@127.0.0.1:1/querylab")
    assert result.returncode == 2
    assert "Cannot reach the app database (DATABASE_URL)" in result.stderr
    assert "Connection refused" in result.stderr
    assert "Traceback" not in result.stderr


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = manage("check", DEBUG="0", SECRET_KEY="")
    assert result.returncode == 2
    assert "SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_it_names_a_malformed_boolean():
    result = manage("check", DEBUG="maybe")
    assert result.returncode == 2
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_the_deploy_checks_pass_with_production_settings():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="x" * 20 + "production-secret-key-for-the-deploy-check-only",
        ALLOWED_HOSTS="querylab.example",
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
