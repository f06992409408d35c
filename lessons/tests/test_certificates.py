"""Certificates of completion: issued for a finished track only, public at an unguessable URL,
revocable by their learner only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from lessons.models import AccountProfile, Certificate

pytestmark = pytest.mark.django_db

TAKE = "/certificates/new/sql/"


@pytest.fixture
def ada(client):
    user = User.objects.create_user("ada", password="pw-for-tests-1")
    AccountProfile.objects.create(user=user, display_name="Ada Lovelace")
    client.force_login(user)
    return user


def finish(client, course):
    for lesson in course:
        client.post(f"/learn/sql/{lesson.slug}/done/", {"answer": "1"})


def test_it_refuses_an_unfinished_track_and_says_what_is_left(client, course, ada):
    client.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    response = client.post(TAKE)
    assert response.status_code == 400
    assert "2 left to mark done" in response.content.decode()
    assert not Certificate.objects.exists()


def test_a_finished_track_gets_a_public_certificate(client, course, ada):
    finish(client, course)
    assert "Get your certificate of completion" in client.get("/learn/sql/").content.decode()
    response = client.post(TAKE)
    certificate = Certificate.objects.get()
    assert response.url == f"/certificates/{certificate.token}/"
    assert len(certificate.token) >= 32
    assert client.post(TAKE).url == response.url  # one valid certificate per track
    public = Client().get(response.url)
    page = public.content.decode()
    assert public.status_code == 200
    assert "Ada Lovelace" in page and "SQL basics" in page
    assert "0</strong> graded exercises passed" in page
    assert certificate.finished_on.strftime("%Y-%m-%d") in page
    assert "Revoke" not in page  # only its learner sees that


def test_only_its_learner_can_revoke_it(client, course, ada):
    finish(client, course)
    url = client.post(TAKE).url
    token = url.split("/")[2]
    mallory = User.objects.create_user("mallory", password="pw-for-tests-1")
    other = Client()
    other.force_login(mallory)
    assert other.post(f"/certificates/{token}/revoke/").status_code == 404
    assert Client().post(f"/certificates/{token}/revoke/").status_code == 404
    assert Client().get(url).status_code == 200
    client.post(f"/certificates/{token}/revoke/")
    gone = Client().get(url)
    assert gone.status_code == 410
    assert "This certificate was revoked" in gone.content.decode()


def test_an_unknown_token_is_not_found(client, course):
    assert client.get("/certificates/not-a-real-token/").status_code == 404


def test_a_visitor_is_asked_to_sign_up_first(client, course):
    finish(client, course)
    response = client.post(TAKE)
    assert response.status_code == 302 and response.url.startswith("/accounts/signup/")
