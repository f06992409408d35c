from __future__ import annotations

from django.apps import AppConfig


class QuerylabConfig(AppConfig):
    """Site-wide pieces: the embedded databases, `serve`, `db`, health checks, accounts."""

    name = "config"
    verbose_name = "Querylab"

    def ready(self) -> None:
        from config import signals  # noqa: F401 (stores usernames' confusable skeletons)
