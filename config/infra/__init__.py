"""The site's infrastructure, which knows no feature: the embedded PostgreSQL servers, the
database backend and its pool check, sessions, logs, metrics, health checks, the 503 page of a
database outage, the debug page's filter, and reading settings from the environment.

Nothing here imports ``lessons`` or ``sandbox`` (import-linter checks it in CI). Features add
what they need from their ``AppConfig.ready()``: health checks (``health.register_check``) and
gauges read when ``/metrics`` is scraped (``metrics.register_gauges``).
"""
