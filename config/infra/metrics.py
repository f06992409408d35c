"""Prometheus metrics (``/metrics``), with ``prometheus-client``.

Counters are kept in memory by the process that counts, never in the database: counting costs
no SQL on the hot path. Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` (set by
config/gunicorn.py) makes prometheus-client keep each worker's counters in files there, and
``/metrics`` adds up every worker of the instance, whichever worker answers. Each instance is
scraped on its own and Prometheus adds instances up (``sum without (instance) (…)``); a
restart starts the counters from zero again, which ``rate()`` and ``increase()`` expect.

Gauges are read when ``/metrics`` is scraped, in the process that answers: Django's connection
pool here, and whatever features register with ``register_gauges`` from their
``AppConfig.ready()`` (the sandbox's records and servers).

Features define their own counters with prometheus-client (``Counter("querylab_…", …)``);
names start with ``querylab_``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from django.db import connections
from prometheus_client import REGISTRY, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector

PREFIX = "querylab_"
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

http_responses = Counter(
    f"{PREFIX}http_responses",
    "Responses with status 429 or 5xx, by status and area of the site.",
    ["status", "area"],
)


class _ReadWhenScraped:
    """A collector that calls ``collect`` at every scrape. ``describe`` says nothing, so
    registering it does not call ``collect`` (which may query the database)."""

    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self.collect = collect

    def describe(self) -> list[Metric]:
        return []


_scraped = CollectorRegistry()
_registered: set[Callable] = set()


def register_gauges(collect: Callable[[], Iterable[Metric]]) -> None:
    """Add series read when ``/metrics`` is scraped: ``collect`` returns metric families
    (``GaugeMetricFamily``…). Called from an ``AppConfig.ready()``; once is enough."""
    if collect not in _registered:
        _registered.add(collect)
        _scraped.register(_ReadWhenScraped(collect))


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def render() -> bytes:
    """The Prometheus text of every counter (of every worker, in multiprocess mode) and of
    the gauges read now."""
    if multiprocess_dir():
        counters = CollectorRegistry()
        MultiProcessCollector(counters)
    else:
        counters = REGISTRY
    return generate_latest(counters) + generate_latest(_scraped)


def _pool_gauges() -> Iterable[Metric]:
    pool = getattr(connections["default"], "pool", None)
    if pool is None:
        return
    stats = pool.get_stats()
    for key in ("pool_min", "pool_max", "pool_size", "pool_available", "requests_waiting"):
        gauge = GaugeMetricFamily(
            f"{PREFIX}db_{key}",
            f"Django's psycopg pool of this process: {key.replace('_', ' ')}.",
        )
        gauge.add_metric([], stats.get(key, 0))
        yield gauge
    for key in ("requests_num", "requests_errors", "connections_num", "connections_errors"):
        counter = CounterMetricFamily(
            f"{PREFIX}db_pool_{key}",
            f"Django's psycopg pool of this process since it started: {key}.",
        )
        counter.add_metric([], stats.get(key, 0))
        yield counter


register_gauges(_pool_gauges)
