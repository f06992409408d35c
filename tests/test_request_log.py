from __future__ import annotations

import json
import logging

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory

from config.infra.logs import JsonFormatter


@pytest.mark.django_db
def test_it_logs_one_line_per_request_with_its_time(client, learner, caplog):
    client.force_login(learner)
    with caplog.at_level(logging.INFO, logger="querylab.requests"):
        client.get("/healthz")
    records = [r for r in caplog.records if r.name == "querylab.requests"]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["method"] == "GET"
    assert line["path"] == "/healthz"
    assert line["status"] == 200
    assert line["user"] == learner.pk
    assert isinstance(line["ms"], float)
    assert line["message"] == "GET /healthz 200"


@pytest.mark.django_db(transaction=True)  # a real handler closes connections between requests
def test_the_line_is_written_once_the_response_has_been_sent(caplog):
    # As a WSGI server sees it: the body is sent first, then the response closed.
    environ = RequestFactory().get("/healthz").environ
    with caplog.at_level(logging.INFO, logger="querylab.requests"):
        response = WSGIHandler()(environ, lambda status, headers: None)
        assert b"".join(response)
        assert [r for r in caplog.records if r.name == "querylab.requests"] == []
        response.close()
    (record,) = [r for r in caplog.records if r.name == "querylab.requests"]
    assert record.getMessage() == "GET /healthz 200"
