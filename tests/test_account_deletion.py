"""/account/delete/: the password again, then the account and everything personal go in one
transaction, the sandboxes are dropped, and others' discussion stays readable."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import models
from django.test import Client

from lessons.models import Learner, ModerationAction, Post, RetiredUsername, Thread
from sandbox import roles
from sandbox.models import Sandbox
from tests import account_history
from tests.account_history import give_history

# The shared fixtures (a course with every kind of lesson part; sandbox settings).
course = account_history.course
sandbox_settings = account_history.sandbox_settings

pytestmark = pytest.mark.django_db


def _rows_pointing_at(model_to, pk) -> dict[str, int]:
    """For every installed model with a relation to `model_to`, how many rows point at `pk`."""
    found = {}
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if field.is_relation and field.concrete and field.related_model is model_to:
                label = f"{model._meta.label}.{field.name}"
                found[label] = model._default_manager.filter(**{field.name: pk}).count()
    return found


@pytest.fixture
def history(learner, other_learner, course, sandbox_settings):
    return give_history(learner, other_learner, course)


@pytest.fixture
def ada(client, learner) -> Client:
    client.force_login(learner)
    client.get("/account/")  # records this device
    return client


def test_it_deletes_every_personal_row_and_drops_the_sandboxes(
    ada, learner, history, staff, django_capture_on_commit_callbacks
):
    user_model = get_user_model()
    learner_id = Learner.objects.get(user=learner).pk
    before = _rows_pointing_at(user_model, learner.pk)
    assert sum(before.values()) > 8  # the history is there to delete
    history.thread.moderate(ModerationAction.Action.LOCK, by=staff)
    sandbox_name = history.sandbox.name
    assert sandbox_name in roles.existing_names(0)

    with django_capture_on_commit_callbacks(execute=True):
        response = ada.post(
            "/account/delete/", {"current_password": "correct-horse-42", "erase_posts": ""}
        )

    assert response.status_code == 302 and response["Location"] == "/"
    assert not user_model.objects.filter(pk=learner.pk).exists()
    assert {label: n for label, n in _rows_pointing_at(user_model, learner.pk).items() if n} == {}
    assert {label: n for label, n in _rows_pointing_at(Learner, learner_id).items() if n} == {}
    assert sandbox_name not in roles.existing_names(0)
    assert not Sandbox.objects.filter(name=sandbox_name).exists()
    assert not any(
        session.get_decoded().get("_auth_user_id") == str(learner.pk)
        for session in Session.objects.all()
    )
    # Others' moderation of her thread keeps who acted.
    assert ModerationAction.objects.get(action="lock").actor == staff


def test_it_keeps_what_others_answered_readable_as_deleted_user(
    ada, learner, other_learner, history
):
    ada.post("/account/delete/", {"current_password": "correct-horse-42"})

    # Her answered thread stays, by "deleted user", with her text; the lonely one is gone.
    assert not Thread.objects.filter(pk=history.lonely_thread.pk).exists()
    thread = Thread.objects.get(pk=history.thread.pk)
    assert thread.author is None and thread.title == "ada: B-tree?"
    bodies = dict(Post.objects.filter(thread=thread).values_list("body", "author"))
    assert bodies == {"ada asks": None, "bob answers": other_learner.pk}  # "ada thanks": gone
    their = dict(Post.objects.filter(thread=history.their_thread).values_list("body", "author"))
    assert their == {
        "bob asks": other_learner.pk,
        "ada replies": None,
        "bob replies": other_learner.pk,
    }

    bob = Client()
    bob.force_login(other_learner)
    page = bob.get(f"/discussion/threads/{thread.pk}/").content.decode()
    assert "deleted user" in page and "ada asks" in page and "bob answers" in page
    assert "ada" not in page.replace("ada asks", "").replace("ada: B-tree?", "")


def test_it_can_erase_the_text_of_answered_posts_too(ada, history):
    ada.post("/account/delete/", {"current_password": "correct-horse-42", "erase_posts": "on"})

    thread = Thread.objects.get(pk=history.thread.pk)
    assert thread.title == "[deleted]"
    opening = thread.posts.get(parent__isnull=True)
    assert opening.body == "" and opening.is_deleted and opening.author is None
    assert Post.objects.get(pk=history.answered_reply.pk).body == ""
    assert thread.posts.filter(body="bob answers").exists()


def test_moderation_records_keep_a_deleted_moderator_as_a_pseudonym(
    client, staff, other_learner, course
):
    thread = Thread.objects.start(lesson=course[0], author=other_learner, title="Q", body="B")
    thread.moderate(ModerationAction.Action.PIN, by=staff)
    client.force_login(staff)

    client.post("/account/delete/", {"current_password": "staff-password-42"})

    action = ModerationAction.objects.get()
    assert action.actor is None
    assert action.former_actor.startswith("deleted user ")
    assert "grace" not in action.former_actor


def test_it_needs_the_password(ada, learner, history):
    response = ada.post("/account/delete/", {"current_password": "guess"})
    assert response.status_code == 400
    assert "That is not your current password." in response.content.decode()
    assert get_user_model().objects.filter(pk=learner.pk).exists()


def test_it_holds_the_deleted_username(ada, learner, client, settings):
    ada.post("/account/delete/", {"current_password": "correct-horse-42"})
    assert RetiredUsername.objects.count() == 1  # no display name to hold
    assert "ada" not in RetiredUsername.objects.get().digest  # only a keyed hash

    response = Client().post(
        "/accounts/signup/",
        {"username": "ADA", "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1"},
    )
    assert "looks too much like an existing user" in response.content.decode()

    RetiredUsername.objects.update(held_until=models.functions.Now())
    response = Client().post(
        "/accounts/signup/",
        {"username": "ada", "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1"},
    )
    assert response.status_code == 302


def test_the_site_keeps_working_for_everyone_else(
    ada, other_learner, history, django_capture_on_commit_callbacks, settings
):
    settings.DISCUSSION_NEW_ACCOUNT_HOURS = 0  # Bob's history posts count against him
    settings.DISCUSSION_POSTS_PER_MINUTE = 100
    with django_capture_on_commit_callbacks(execute=True):
        ada.post("/account/delete/", {"current_password": "correct-horse-42"})

    bob = Client()
    bob.force_login(other_learner)
    assert bob.get("/").status_code == 200
    assert bob.get("/learn/sql/indexes/").status_code == 200
    assert bob.get("/discussion/notifications/").status_code == 200
    assert bob.get("/progress/").status_code == 200
    theirs = history.their_thread
    reply = bob.post(
        f"/discussion/posts/{theirs.posts.get(parent__isnull=True).pk}/reply/",
        {"body": "Still here"},
    )
    assert reply.status_code in (200, 302)
    assert theirs.posts.filter(body="Still here").exists()
    export = bob.post("/account/export.json").json()
    assert export["profile"]["username"] == "bob"
    # Ada's old session is signed out: she is a visitor now.
    assert "Log in" in ada.get("/").content.decode()


def test_it_holds_the_display_name_too(ada, learner):
    ada.post("/account/profile/", {"display_name": "Countess", "replies": "email"})
    ada.post("/account/delete/", {"current_password": "correct-horse-42"})
    bob = Client()
    bob.force_login(get_user_model().objects.create_user("bob2", password="x-long-pass-9"))
    response = bob.post("/account/profile/", {"display_name": "COUNTESS", "replies": "email"})
    assert "looks too much like another user" in response.content.decode()


def test_a_sandbox_the_server_cannot_drop_now_is_left_to_the_janitor(
    ada, learner, history, monkeypatch, django_capture_on_commit_callbacks
):
    from sandbox import servers

    name = history.sandbox.name

    def server_down(server, names):
        raise servers.SandboxUnavailable("the sandbox server does not answer")

    with monkeypatch.context() as patch:
        patch.setattr(roles, "drop", server_down)
        with django_capture_on_commit_callbacks(execute=True):
            response = ada.post("/account/delete/", {"current_password": "correct-horse-42"})
    assert response.status_code == 302
    assert not get_user_model().objects.filter(pk=learner.pk).exists()
    left = Sandbox.objects.get(name=name)
    assert (left.state, left.learner_id) == (Sandbox.State.DROPPING, None)

    Sandbox.objects.sweep()
    assert not Sandbox.objects.filter(name=name).exists()
    assert name not in roles.existing_names(0)
