"""/account/export.json: everything the site holds about the learner, nothing of another."""

from __future__ import annotations

import json

import pytest

from lessons.models import ModerationAction, Thread
from tests import account_history
from tests.account_history import give_history

# The shared fixtures (a course with every kind of lesson part; sandbox settings).
course = account_history.course
sandbox_settings = account_history.sandbox_settings

pytestmark = pytest.mark.django_db


def test_it_exports_every_kind_of_record_and_nothing_of_another_learner(
    client, learner, other_learner, course, sandbox_settings
):
    give_history(learner, other_learner, course)
    give_history(other_learner, learner, course)  # Bob has a history of every kind too
    client.force_login(learner)

    response = client.post("/account/export.json")

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="querylab-')
    data = response.json()
    assert data["format"] == "querylab-account/1"
    assert data["profile"]["username"] == "ada"
    assert data["profile"]["email"] == "ada@example.com"
    assert data["profile"]["display_name"] == "Ada L."
    progress = data["progress"]  # the progress export, as /progress/export.json gives it
    assert progress["format"] == "querylab-progress/1"
    assert [row["status"] for row in progress["lessons"]] == ["completed"]
    assert progress["quiz_attempts"][0]["choices"] == ["hash"]
    assert progress["self_checks"][0]["got_it"] is True
    assert progress["flashcards"][0]["card"] == "card-gin"
    attempts = {row["language"]: row for row in data["exercise_attempts"]}
    assert attempts["sql"]["code"] == "SELECT count(*) FROM items"
    assert attempts["python"]["code"] == "for b in Book.objects.all(): b"
    assert data["saved_plans"][0]["sql"] == "SELECT 1"
    assert data["sandboxes"][0]["lesson"] == "sql/indexes"
    assert "Firefox on Linux" in {device["browser"] for device in data["devices"]}
    discussion = data["discussion"]
    # Her own history, and her part of Bob's (she answered his thread and asked in her own).
    titles = {thread["title"] for thread in discussion["threads"]}
    assert titles == {"ada: B-tree?", "ada: anyone?", "ada's question"}
    bodies = {post["body"] for post in discussion["posts"]}
    assert {"ada asks", "ada thanks", "ada alone", "ada replies", "ada answers"} <= bodies
    assert all(body.startswith("ada") for body in bodies)
    assert len(discussion["votes"]) == 2
    assert [flag["note"] for flag in discussion["flags"]] == ["ada's flag"]
    assert len(discussion["notifications"]) == 5
    for kind in (
        "exercise_attempts",
        "saved_plans",
        "sandboxes",
        "shared_snapshots",
        "devices",
    ):
        assert len(data[kind]) >= 1, kind

    # Bob's name, address, display name, posts and thread appear nowhere.
    assert "bob" not in json.dumps(data).casefold()


def test_it_needs_a_signed_in_post(client, learner):
    client.force_login(learner)
    assert client.get("/account/export.json").status_code == 405
    client.logout()
    response = client.post("/account/export.json")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_it_exports_what_a_moderator_did(client, staff, other_learner, course):
    thread = Thread.objects.start(lesson=course[0], author=other_learner, title="Q", body="B")
    thread.moderate(ModerationAction.Action.LOCK, by=staff, note="heated")
    client.force_login(staff)
    actions = client.post("/account/export.json").json()["discussion"]["moderation_actions"]
    assert [(action["action"], action["note"]) for action in actions] == [("lock", "heated")]
