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


@pytest.mark.django_db
def test_it_answers_bad_input_refused_by_the_database_with_a_400(client, caplog):
    with caplog.at_level(logging.WARNING, logger="querylab.unavailable"):
        response = client.get("/outage/bad-value/")
    assert response.status_code == 400
    assert "Retry-After" not in response
    assert "cannot accept" in response.content.decode()
    assert not [r for r in caplog.records if "database unavailable" in r.getMessage()]


@pytest.mark.django_db
def test_it_answers_bad_input_to_the_api_as_json(client):
    response = client.post("/api/bad-value", {}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["ok"] is False and "cannot accept" in response.json()["error"]


@pytest.mark.django_db(transaction=True)
def test_it_leaves_a_statement_the_server_refused_as_a_500_not_an_outage():
    client = Client(raise_request_exception=False)
    assert client.get("/outage/statement-error/").status_code == 500


@pytest.mark.django_db
def test_it_answers_a_search_for_a_nul_character(client):
    response = client.get("/search/?q=%00")
    assert response.status_code == 200
    assert "cannot reach its database" not in response.content.decode()


@pytest.mark.django_db
def test_it_answers_a_discussion_page_number_past_bigint(client):
    from lessons.models import Lesson, Track

    track = Track.objects.create(slug="sql", title="SQL")
    Lesson.objects.create(track=track, slug="joins", step=1, title="Joins")
    response = client.get("/learn/sql/joins/discussion/?page=99999999999999999999")
    assert response.status_code == 200
