"""A database outage answers 503 with a friendly message (HTML, or JSON under /api/)."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

pytestmark = pytest.mark.urls("tests.outage_urls")


def test_it_answers_a_friendly_503_page_when_the_database_is_gone(client):
    response = client.get("/outage/page/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    text = response.content.decode()
    assert "cannot reach its database" in text
    assert "Traceback" not in text and "OperationalError" not in text


def test_it_answers_json_for_the_api(client):
    response = client.post("/api/outage", {}, content_type="application/json")
    assert response.status_code == 503
    assert response.json() == {
        "ok": False,
        "error": "Querylab cannot reach its database right now. Please try again in a few seconds.",
    }


def test_it_treats_an_exhausted_pool_as_an_outage(client):
    assert client.get("/outage/pool/").status_code == 503


def test_it_leaves_other_errors_as_500():
    client = Client(raise_request_exception=False)
    assert client.get("/outage/bug/").status_code == 500


def test_it_logs_the_outage_without_reading_the_session(client, learner, caplog):
    client.force_login(learner)
    with caplog.at_level(logging.INFO, logger="querylab.requests"):
        client.get("/outage/page/")
    (record,) = [r for r in caplog.records if r.name == "querylab.requests"]
    assert record.status == 503
    assert record.user is None  # the session is in the database that is down
