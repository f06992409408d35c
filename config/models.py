"""Site-wide records: the counters behind ``/metrics`` (see config/infra/metrics.py)."""

from __future__ import annotations

from django.db import models


class Counter(models.Model):
    """One Prometheus counter series, kept in PostgreSQL so every gunicorn worker and every
    host adds to the same number (process memory would be per worker and lost on restart)."""

    metric = models.CharField(max_length=100)
    labels = models.CharField(max_length=200, blank=True)  # as written: bound="run_timeout"
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["metric", "labels"], name="counter_metric_labels")
        ]

    def __str__(self) -> str:
        return f"{self.metric}{{{self.labels}}} {self.value}"
