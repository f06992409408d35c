"""The stored skeletons behind the look-alike check: kept on every save, backfilled once."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from lessons.models import UsernameSkeleton

backfill = importlib.import_module("lessons.migrations.0007_username_skeleton")


@pytest.mark.django_db
def test_it_stores_the_skeleton_of_a_new_user(django_user_model):
    user = django_user_model.objects.create_user("\u0455ec\u0405taff")
    assert UsernameSkeleton.objects.get(user=user).skeleton == "secstaff"


@pytest.mark.django_db
def test_it_does_not_write_when_only_last_login_changes(django_user_model, client):
    user = django_user_model.objects.create_user("ada", password="correct-horse-42")
    UsernameSkeleton.objects.all().delete()
    assert client.login(username="ada", password="correct-horse-42")
    user.refresh_from_db()
    assert user.last_login is not None
    assert not UsernameSkeleton.objects.exists()


@pytest.mark.django_db
def test_it_backfills_the_users_who_were_there_before(django_user_model):
    django_user_model.objects.create_user("secstaff")
    django_user_model.objects.create_user("ada")
    UsernameSkeleton.objects.all().delete()
    backfill.store_existing_skeletons(apps, None)
    assert UsernameSkeleton.objects.look_alikes("\u0455ECSTAFF").count() == 1
    assert UsernameSkeleton.objects.count() == 2
