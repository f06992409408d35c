"""One log line per sandbox run, with the bounds it hit and never the learner's SQL."""

from __future__ import annotations

import json
import logging

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory

from config.infra.logs import JsonFormatter
from sandbox.tests.conftest import run_json


def run_lines(caplog) -> list[dict]:
    return [
        json.loads(JsonFormatter().format(record))
        for record in caplog.records
        if record.name == "sandbox.models" and record.levelno == logging.INFO
    ]


def test_it_logs_a_run_without_its_sql(client, shop_lesson, caplog):
    with caplog.at_level(logging.INFO, logger="sandbox.models"):
        run_json(client, shop_lesson, "SELECT 'my-secret-answer-42' AS a")
    (line,) = run_lines(caplog)
    assert line["kind"] == "run" and line["ok"] is True
    assert line["lesson"] == shop_lesson.ref
    assert line["statements"] == 1 and line["rows"] == 1
    assert line["sql_chars"] == len("SELECT 'my-secret-answer-42' AS a")
    assert len(line["sql_sha256"]) == 16
    assert line["bounds"] == []
    assert "my-secret-answer-42" not in json.dumps(line)


def test_it_names_the_bounds_a_run_hit(client, shop_lesson, caplog):
    with caplog.at_level(logging.INFO, logger="sandbox.models"):
        run_json(client, shop_lesson, "SELECT generate_series(1, 1000); SELECT pg_sleep(3)")
    (line,) = run_lines(caplog)
    assert line["ok"] is False and line["sqlstate"] == "57014"
    assert line["bounds"] == ["statement_timeout", "rows"]


@pytest.mark.django_db(transaction=True)  # a real handler closes connections between requests
def test_a_runs_lines_are_written_once_the_response_has_been_sent(shop_lesson, caplog):
    # As a WSGI server sees it: the body is sent first, then the response closed.
    secret = "a" * 32  # a CSRF secret, sent as cookie and header
    request = RequestFactory().post(
        "/api/sandbox/run",
        json.dumps({"lesson": shop_lesson.ref, "sql": "SELECT 1"}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=secret,
        HTTP_COOKIE=f"csrftoken={secret}",
    )
    lines = ("sandbox.models", "querylab.requests")
    with caplog.at_level(logging.INFO):
        response = WSGIHandler()(request.environ, lambda status, headers: None)
        assert json.loads(b"".join(response))["ok"] is True
        assert [record for record in caplog.records if record.name in lines] == []
        response.close()
    assert [record.name for record in caplog.records if record.name in lines] == list(lines)
