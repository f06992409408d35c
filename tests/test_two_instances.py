"""Two gunicorn instances (two machines, as far as the app can tell) share one app database:
a session made on one is valid on the other, and ending it on one ends it on both. Nothing a
request needs lives in a process's memory."""

from __future__ import annotations

import pytest

from tests.servers import gunicorn, log_in, request, site_environment

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_it_shares_sessions_between_instances(django_user_model):
    django_user_model.objects.create_user("ada", "ada@example.com", "correct-horse-42")
    env = site_environment()
    with gunicorn(env, workers=1) as first, gunicorn(env, workers=1) as second:
        assert first.port != second.port
        cookies = log_in(first.url, "ada", "correct-horse-42")

        status, _, body = request(second.url + "/discussion/notifications/", cookies=cookies)
        assert status == 200
        assert b"ada" in body

        status, _, _ = request(
            second.url + "/accounts/logout/",
            "POST",
            cookies=cookies,
            form={"csrfmiddlewaretoken": cookies["csrftoken"]},
        )
        assert status == 302
        status, headers, _ = request(first.url + "/discussion/notifications/", cookies=cookies)
        assert status == 302
        assert "/accounts/login/" in headers["Location"]
