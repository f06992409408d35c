"""The admin's user pages refuse the usernames that signing up refuses (config/forms.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User


@pytest.fixture
def admin_client(client, django_user_model):
    boss = django_user_model.objects.create_superuser("boss", "boss@example.com", "boss-pass-42")
    client.force_login(boss)
    return client


@pytest.fixture
def secstaff(django_user_model):
    return django_user_model.objects.create_user("secstaff", password="staff-password-42")


@pytest.mark.django_db
def test_it_refuses_to_add_a_look_alike_user(admin_client, secstaff):
    response = admin_client.post(
        "/admin/auth/user/add/",
        {
            "username": "\u0455ecstaff",
            "usable_password": "true",
            "password1": "a-long-passphrase-1",
            "password2": "a-long-passphrase-1",
        },
    )
    assert response.status_code == 200
    assert "This username looks too much like an existing user" in response.content.decode()
    assert not User.objects.filter(username="\u0455ecstaff").exists()


@pytest.mark.django_db
def test_it_refuses_to_rename_a_user_to_a_look_alike(admin_client, secstaff, learner):
    response = admin_client.post(
        f"/admin/auth/user/{learner.pk}/change/",
        {
            "username": "SecStaff",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 200
    assert "This username looks too much like an existing user" in response.content.decode()
    learner.refresh_from_db()
    assert learner.username == "ada"


@pytest.mark.django_db
def test_it_still_saves_a_user_under_their_own_username(admin_client, learner):
    response = admin_client.post(
        f"/admin/auth/user/{learner.pk}/change/",
        {
            "username": "ada",
            "first_name": "Ada",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302
    learner.refresh_from_db()
    assert learner.first_name == "Ada"
