"""Shared pytest fixtures. Tests run against a real PostgreSQL: the embedded server, or
DATABASE_URL when it is set (see config/settings.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def learner(django_user_model):
    return django_user_model.objects.create_user("ada", "ada@example.com", "correct-horse-42")


@pytest.fixture
def other_learner(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", "battery-staple-42")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        "grace", "grace@example.com", "staff-password-42", is_staff=True
    )
