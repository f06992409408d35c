"""The sandbox's series in ``/metrics`` (served by config/infra/metrics.py).

Counters are prometheus-client's, counted in the process that serves the run; the gauges are
read when ``/metrics`` is scraped (registered from ``SandboxConfig.ready()``).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric

runs = Counter(
    "querylab_sandbox_runs", "Sandbox runs and explains that reached the server.", ["kind"]
)
bounds_hit = Counter(
    "querylab_sandbox_bounds_hit", "Runs stopped or cut short by a bound, by bound.", ["bound"]
)
timeouts = Counter(
    "querylab_sandbox_timeouts", "Runs stopped by a timeout (a subset of bounds hit).", ["bound"]
)
rejections = Counter(
    "querylab_sandbox_rejections",
    "Runs refused before reaching the server, by the bound that refused them.",
    ["bound"],
)
unavailable = Counter(
    "querylab_sandbox_unavailable", "Runs that found their sandbox server down.", ["server"]
)

# wall_clock: a lab run's (sandbox/lab/runlog.py).
TIMEOUT_BOUNDS = {
    "statement_timeout",
    "run_timeout",
    "lock_timeout",
    "idle_in_transaction_timeout",
    "wall_clock",
}


def count_run(kind: str, bounds: Iterable[str]) -> None:
    """One run or explain that reached a server, and the bounds it hit."""
    runs.labels(kind=kind).inc()
    for bound in bounds:
        bounds_hit.labels(bound=bound).inc()
        if bound in TIMEOUT_BOUNDS:
            timeouts.labels(bound=bound).inc()


def gauges() -> Iterable[Metric]:
    """Sandbox records by server and state, and each server: answering (the status
    servers.py caches), and this installation's connections on it."""
    from sandbox import servers
    from sandbox.models import Sandbox

    records = GaugeMetricFamily(
        "querylab_sandboxes", "Sandbox records by server and state.", labels=["server", "state"]
    )
    for server, state, n in (
        Sandbox.objects.order_by("server", "state")
        .values_list("server", "state")
        .annotate(n=Count("pk"))
    ):
        records.add_metric([str(server), state], n)
    yield records
    up = GaugeMetricFamily(
        "querylab_sandbox_server_up", "Whether each sandbox server answers.", labels=["server"]
    )
    used = GaugeMetricFamily(
        "querylab_sandbox_server_connections",
        "Connections of this installation on each sandbox server, by application.",
        labels=["server", "application"],
    )
    for server in range(len(servers.sandbox_urls())):
        answers = servers.server_answers(server)
        up.add_metric([str(server)], 1 if answers else 0)
        if not answers:
            continue
        try:
            for application, n in sorted(servers.server_connections(server).items()):
                used.add_metric([str(server), application], n)
        except servers.SandboxUnavailable:
            continue
    yield up
    yield used
