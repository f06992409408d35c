from __future__ import annotations

from django.apps import AppConfig


class LessonsConfig(AppConfig):
    """Tracks, lessons, the Markdown content pipeline, the learning loop and discussion."""

    name = "lessons"

    def ready(self) -> None:
        from lessons import signals  # noqa: F401 (connects the log-in merge and the stamp)
