"""Importing the settings (and setting Django up) starts no server and writes no file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOWHERE = "postgresql://nobody@127.0.0.1:1/none"


def postgres_processes(data_dir: Path) -> set[int]:
    """PostgreSQL servers with their data under ``data_dir`` (other test runs on this machine
    start servers of their own; those are not this test's business)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            program = command.split(b"\0")[0]
            if program.endswith(b"postgres") and str(data_dir).encode() in command:
                found.add(int(entry.name))
    return found


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "SANDBOX_DATABASE_URL", "SECRET_KEY", "DEBUG"}
    }
    environment.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "urls",
    [
        {"DATABASE_URL": NOWHERE, "SANDBOX_DATABASE_URL": NOWHERE},
        {},  # the embedded servers, never started in this data folder
    ],
    ids=["urls-pointing-nowhere", "embedded"],
)
@pytest.mark.parametrize(
    "code", ["import config.settings", "import django; django.setup()"], ids=["import", "setup"]
)
def test_it_starts_nothing_and_writes_nothing(tmp_path, urls, code):
    data_dir = tmp_path / "data"
    data_dir.mkdir()

    result = run_python(code, QUERYLAB_DATA_DIR=str(data_dir), **urls)

    assert result.returncode == 0, result.stderr
    assert list(data_dir.iterdir()) == []
    assert postgres_processes(data_dir) == set()


def test_without_a_server_the_url_refuses_connections(tmp_path):
    code = "from django.conf import settings; print(settings.DATABASES['default']['PORT'])"
    result = run_python(code, QUERYLAB_DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_the_data_folder_is_dot_data_at_the_top(monkeypatch):
    from config.infra import embedded

    monkeypatch.delenv("QUERYLAB_DATA_DIR", raising=False)
    assert embedded.data_dir() == ROOT / ".data"
