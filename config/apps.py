from __future__ import annotations

from django.apps import AppConfig


class QuerylabConfig(AppConfig):
    """Site-wide pieces: the embedded databases, `serve`, `db`, health checks."""

    name = "config"
    verbose_name = "Querylab"
