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


def _sign_up(client, username: str):
    return client.post(
        "/accounts/signup/",
        {
            "username": username,
            "password1": "a-long-passphrase-1",
            "password2": "a-long-passphrase-1",
        },
    )


@pytest.fixture
def secstaff(django_user_model):
    return django_user_model.objects.create_user("secstaff", password="staff-password-42")


@pytest.mark.django_db
def test_it_refuses_a_username_with_a_text_direction_character(client):
    response = _sign_up(client, "evil\u202eadmin")
    assert response.status_code == 200
    assert (
        "The username contains an invisible text-direction character "
        "(U+202E RIGHT-TO-LEFT OVERRIDE)" in response.content.decode()
    )
    assert not User.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_username_with_stacked_combining_marks(client):
    response = _sign_up(client, "zq\u0336\u0353\u0489\u0336\u0353")
    assert response.status_code == 200
    assert "The username stacks more than 4 combining marks" in response.content.decode()
    assert not User.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_look_alike_of_an_existing_username(client, secstaff):
    response = _sign_up(client, "\u0455ecstaff")  # a Cyrillic dze for the s
    assert response.status_code == 200
    assert "This username looks too much like an existing user" in response.content.decode()
    assert list(User.objects.values_list("username", flat=True)) == ["secstaff"]


@pytest.mark.django_db
def test_it_refuses_a_look_alike_that_also_differs_in_case(client, secstaff):
    response = _sign_up(client, "\u0405ecStaff")  # a capital Cyrillic dze
    assert "This username looks too much like an existing user" in response.content.decode()
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_it_refuses_a_username_that_differs_only_in_case(client, secstaff):
    # Django's UserCreationForm already does this; kept so that it stays so.
    response = _sign_up(client, "SecStaff")
    assert "A user with that username already exists." in response.content.decode()
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_it_allows_a_look_alike_once_the_original_is_renamed(client, secstaff):
    secstaff.username = "retired"
    secstaff.save()
    response = _sign_up(client, "\u0455ecstaff")
    assert response.status_code == 302
    assert User.objects.count() == 2
