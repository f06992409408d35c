"""The tables of a lab lesson: the DDL Django's schema editor makes for its model module.

What ``sqlmigrate`` prints for an initial migration of those models: CREATE TABLE with identity
columns, the many-to-many tables, ``_like`` indexes for varchar/text lookups, deferrable foreign
keys (``DEFERRABLE INITIALLY DEFERRED``) and their indexes. The model module is loaded in a
helper process (``python -m sandbox.lab.seeding <models_dir> <name>``) with the lab's own Django
(``djangoenv``), never in the web process: its models would otherwise join the site's registry.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from django.conf import settings


class ModelsBroken(RuntimeError):
    """The model module is missing or does not load."""


_cache: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def models_dir() -> Path:
    return Path(settings.LAB_MODELS_DIR)


def models_source(name: str, directory: Path | None = None) -> str:
    directory = directory or models_dir()
    path = (directory / f"{name}.py").resolve()
    if path.parent != directory.resolve() or not path.is_file():
        raise ModelsBroken(f"The lab model module {name!r} is not in {directory}.")
    return path.read_text(encoding="utf-8")


def ddl_for(name: str, directory: Path | None = None, source: str | None = None) -> str:
    """The DDL for content/models/<name>.py (or for ``source``, the module's text as stored
    with a published lesson), cached per text of the module."""
    directory = directory or models_dir()
    if source is None:
        source = models_source(name, directory)
    key = (name, hashlib.sha256(source.encode()).hexdigest())
    with _lock:
        found = _cache.get(key)
    if found is not None:
        return found
    with tempfile.TemporaryDirectory() as folder:
        # The given text, not whatever the file holds now.
        (Path(folder) / f"{name}.py").write_text(source, encoding="utf-8")
        ddl = _run_helper(Path(folder), name)
    with _lock:
        _cache[key] = ddl
    return ddl


def _run_helper(directory: Path, name: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sandbox.lab.seeding", str(directory), name],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
        env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise ModelsBroken(
            f"The lab model module {name!r} does not load: {lines[-1] if lines else '?'}"
        )
    return done.stdout


def _print_ddl(directory: str, name: str) -> None:
    from sandbox.lab import djangoenv

    djangoenv.configure()
    module = djangoenv.load_models(Path(directory), name)
    from django.db import connection

    # collect_sql and atomic=False: the SQL is collected, never sent (no connection opens).
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        for model in djangoenv.model_classes(module).values():
            editor.create_model(model)
    print("\n".join(editor.collected_sql))


if __name__ == "__main__":
    _print_ddl(sys.argv[1], sys.argv[2])
