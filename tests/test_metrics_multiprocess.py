"""Under gunicorn, /metrics adds up the counters of every worker of the instance, whichever
worker answers the scrape (prometheus-client's multiprocess mode, config/gunicorn.py)."""

from __future__ import annotations

import pytest

from tests.servers import api_headers, gunicorn, request, site_environment

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TOKEN = "scrape-me-" + "y" * 20


def scrape(url: str) -> dict[str, float]:
    status, headers, body = request(url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_every_scrape_counts_every_workers_responses(tmp_path):
    env = site_environment(
        METRICS_ENABLED="1",
        METRICS_TOKEN=TOKEN,
        SANDBOX_RUNS_PER_MINUTE="0",  # every run answers 429, which /metrics counts
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
    )
    with gunicorn(env, workers=2, threads=2) as site:
        sent = 0
        # One connection each; until both workers have counted some (each keeps a file).
        while sent < 10 or len(list(tmp_path.glob("counter_*.db"))) < 2:
            assert sent < 300, "one worker took every connection"
            status, _, _ = request(
                site.url + "/api/sandbox/run",
                "POST",
                body={"lesson": "sql/indexes", "sql": "SELECT 1"},
                cookies={"csrftoken": api_headers()["X-CSRFToken"]},
                headers=api_headers(),
            )
            assert status == 429
            sent += 1
        series = 'querylab_http_responses_total{area="sandbox",status="429"}'
        totals = {scrape(site.url)[series] for _ in range(6)}
    assert totals == {float(sent)}
