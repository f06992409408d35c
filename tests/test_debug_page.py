"""Django's debug 500 page, shown while DEBUG is on, hides every credential (issue #18 item 1):
the sandbox server's superuser URL, the app database's URL in the environment, and any other
URL with a password in it."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = [pytest.mark.urls("tests.outage_urls"), pytest.mark.django_db]

SANDBOX_URL = "postgresql://postgres:sandbox-superuser-pw@127.0.0.1:5433/querylab_sandbox"


def debug_500(settings, **environ) -> str:
    settings.DEBUG = True
    client = Client(raise_request_exception=False)
    response = client.get("/outage/bug/", **environ)
    assert response.status_code == 500
    text = response.content.decode()
    assert "ZeroDivisionError" in text  # it is the debug page
    return text


def test_it_hides_the_sandbox_servers_password(settings):
    settings.SANDBOX_DATABASE_URL = SANDBOX_URL
    text = debug_500(settings)
    assert "SANDBOX_DATABASE_URL" in text
    assert "sandbox-superuser-pw" not in text


def test_it_hides_the_configured_sandbox_url_too(settings):
    from django.conf import settings as live

    password = live.SANDBOX_DATABASE_URL.split("://", 1)[1].split("@", 1)[0].partition(":")[2]
    text = debug_500(settings)
    if password:
        assert password not in text


def test_it_hides_a_database_url_in_the_request_environment(settings):
    text = debug_500(settings, DATABASE_URL="postgresql://app:app-db-pw@db:5432/querylab")
    assert "app-db-pw" not in text


def test_it_hides_any_url_with_a_password_whatever_its_name(settings):
    settings.SOME_BROKER = "amqp://guest:broker-pw@rabbit:5672/"
    assert "broker-pw" not in debug_500(settings)


def test_it_still_shows_settings_that_hold_no_secret(settings):
    settings.STATIC_URL = "/static-files-here/"
    assert "/static-files-here/" in debug_500(settings)
