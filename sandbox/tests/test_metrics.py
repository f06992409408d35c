"""/metrics: off by default, for staff or a bearer token; counters of this process (every
worker's under gunicorn, see tests/test_metrics_multiprocess.py) and gauges read when scraped."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from sandbox.tests.conftest import api

TOKEN = "scrape-me-" + "x" * 20


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_ENABLED = True
    settings.METRICS_TOKEN = TOKEN


def scrape(client: Client) -> dict[str, float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for line in response.content.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_it_is_off_by_default(client, db):
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404


def test_it_wants_staff_or_the_token(client, learner, staff, metrics_on):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    client.force_login(learner)
    assert client.get("/metrics").status_code == 401
    client.force_login(staff)
    assert client.get("/metrics").status_code == 200


def test_it_counts_runs_bounds_rejections_and_429s(client, shop_lesson, metrics_on, settings):
    # Counters live as long as the process: other tests counted before this one.
    before = scrape(Client())
    assert api(client, "run", shop_lesson, "SELECT 1").json()["ok"]
    timed_out = api(client, "run", shop_lesson, "SELECT pg_sleep(3)").json()
    assert "Statement timeout" in timed_out["error"]["message"]
    capped = api(client, "run", shop_lesson, "SELECT generate_series(1, 1000)").json()
    assert capped["results"][0]["truncated"]
    settings.SANDBOX_RUNS_PER_MINUTE = 3
    assert api(client, "run", shop_lesson, "SELECT 1").status_code == 429

    samples = scrape(Client())

    def added(name: str) -> float:
        return samples[name] - before.get(name, 0)

    assert added('querylab_sandbox_runs_total{kind="run"}') == 3
    assert added('querylab_sandbox_bounds_hit_total{bound="statement_timeout"}') == 1
    assert added('querylab_sandbox_bounds_hit_total{bound="rows"}') == 1
    assert added('querylab_sandbox_timeouts_total{bound="statement_timeout"}') == 1
    assert added('querylab_sandbox_rejections_total{bound="runs_per_minute"}') == 1
    assert added('querylab_http_responses_total{area="sandbox",status="429"}') == 1
    assert samples['querylab_sandboxes{server="0",state="active"}'] == 1
    assert samples['querylab_sandbox_server_up{server="0"}'] == 1


def test_counting_a_run_sends_no_sql(client, shop_lesson, metrics_on):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api(client, "run", shop_lesson, "SELECT 1")
    with CaptureQueriesContext(connection) as queries:
        assert api(client, "run", shop_lesson, "SELECT 1").json()["ok"]
    assert not [q["sql"] for q in queries if "counter" in q["sql"].lower()]


def test_it_shows_connection_pool_use(client, shop_lesson, metrics_on):
    api(client, "run", shop_lesson, "SELECT 1")
    samples = scrape(client)
    assert samples["querylab_db_pool_max"] >= 1
    assert "querylab_db_pool_size" in samples
    assert any(re.match(r'querylab_sandbox_server_connections\{.*server="0"', k) for k in samples)
