"""What `manage.py serve` runs beside the web server, registered by the features that need it
from their AppConfig.ready(): the sandbox's janitor, the Django ORM lab's worker. So `serve`
(infrastructure) knows no feature, and gunicorn alone (production) runs none of them: there
each is a service of its own (docker-compose.yml).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Companion:
    name: str
    start: Callable[[], Any]  # returns a handle for `stop`, or None when it did not start
    stop: Callable[[Any], None] | None = None


_companions: dict[str, Companion] = {}


def register_companion(
    name: str, start: Callable[[], Any], stop: Callable[[Any], None] | None = None
) -> None:
    """Have `serve` call `start()` before the web server starts and `stop(handle)` after it
    stops. Registering a name again replaces it."""
    _companions[name] = Companion(name, start, stop)


def start_all() -> list[tuple[Companion, Any]]:
    """Start every registered companion; one that fails is reported and left out, since the
    site serves everything else without it."""
    started = []
    for companion in _companions.values():
        try:
            started.append((companion, companion.start()))
        except Exception as exc:
            print(f"{companion.name}: {exc}", file=sys.stderr)
    return started


def stop_all(started: list[tuple[Companion, Any]]) -> None:
    for companion, handle in reversed(started):
        if companion.stop is not None and handle is not None:
            try:
                companion.stop(handle)
            except Exception as exc:
                print(f"{companion.name}: {exc}", file=sys.stderr)
