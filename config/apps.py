from __future__ import annotations

from django.apps import AppConfig


class QuerylabConfig(AppConfig):
    """The site's own app: the `serve` and `db` commands and the migrations of its
    infrastructure (config/infra/). Features register their health checks, gauges and
    companions with config.infra from their own ready()."""

    name = "config"
    verbose_name = "Querylab"
