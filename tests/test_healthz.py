from __future__ import annotations

import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_it_reports_both_databases_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "sandbox": "ok"}


@pytest.mark.django_db
def test_it_answers_503_when_the_sandbox_server_is_down(client):
    with override_settings(SANDBOX_DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing"):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "ok"
    assert body["sandbox"].startswith("down:")
