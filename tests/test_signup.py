from __future__ import annotations

import pytest
from django.contrib.auth.models import User


@pytest.mark.django_db
def test_it_creates_an_account_and_signs_in(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "linus",
            "email": "",
            "password1": "a-long-passphrase-1",
            "password2": "a-long-passphrase-1",
            "next": "/healthz",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/healthz"
    assert User.objects.filter(username="linus").exists()
    assert client.get("/").context["user"].username == "linus"


@pytest.mark.django_db
def test_it_refuses_an_offsite_next(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "linus",
            "password1": "a-long-passphrase-1",
            "password2": "a-long-passphrase-1",
            "next": "https://evil.example/",
        },
    )
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_it_shows_errors_in_place(client, learner):
    response = client.post(
        "/accounts/signup/",
        {"username": "ada", "password1": "short", "password2": "other"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "A user with that username already exists." in page
    assert not User.objects.filter(username="").exists()


@pytest.mark.django_db
def test_it_requires_csrf(learner):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        "/accounts/signup/",
        {"username": "eve", "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1"},
    )
    assert response.status_code == 403
    assert not User.objects.filter(username="eve").exists()
