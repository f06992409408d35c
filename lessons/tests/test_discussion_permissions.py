"""Who may write what: signed-out visitors nothing, users their own posts, staff moderate.
CSRF protects every write."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from lessons.models import Flag, ModerationAction, Notification, Post, Thread, Vote
from lessons.tests.discussion_helpers import NEW_THREAD_URL, opening, signed_in, start_thread


@pytest.fixture
def thread_with_reply(lesson, learner, other_learner):
    thread = start_thread(lesson, learner)
    reply = thread.add_reply(author=other_learner, parent=opening(thread), body="Bob's reply")
    return thread, reply


def _write_requests(thread: Thread, reply: Post) -> list[tuple[str, dict]]:
    post = opening(thread)
    return [
        (NEW_THREAD_URL, {"title": "T", "body": "B"}),
        (f"/discussion/posts/{post.pk}/reply/", {"body": "R"}),
        (f"/discussion/posts/{reply.pk}/edit/", {"body": "changed"}),
        (f"/discussion/posts/{reply.pk}/delete/", {}),
        (f"/discussion/posts/{reply.pk}/vote/", {}),
        (f"/discussion/posts/{reply.pk}/answer/", {}),
        (f"/discussion/posts/{reply.pk}/flag/", {"reason": "spam"}),
        (f"/discussion/posts/{reply.pk}/moderate/", {"action": "hide"}),
        (f"/discussion/threads/{thread.pk}/moderate/", {"action": "lock"}),
        ("/discussion/notifications/read/", {}),
    ]


def _snapshot() -> tuple:
    return (
        list(Post.objects.order_by("pk").values_list("pk", "body", "deleted_at", "hidden_at")),
        list(Thread.objects.values_list("pk", "title", "is_locked", "is_pinned", "answer")),
        Vote.objects.count(),
        Flag.objects.count(),
        ModerationAction.objects.count(),
        list(Notification.objects.values_list("pk", "read_at")),
    )


def test_it_sends_signed_out_writers_to_log_in_and_stores_nothing(client, thread_with_reply):
    before = _snapshot()
    for url, data in _write_requests(*thread_with_reply):
        response = client.post(url, data)
        assert response.status_code in (302, 403), url
        if response.status_code == 302:
            assert response["Location"].startswith("/accounts/login/?next="), url
    assert _snapshot() == before


def test_it_keeps_signed_out_visitors_from_the_form_pages(client, thread_with_reply):
    thread, reply = thread_with_reply
    for url in (
        NEW_THREAD_URL,
        f"/discussion/posts/{reply.pk}/reply/",
        f"/discussion/posts/{reply.pk}/edit/",
        f"/discussion/posts/{reply.pk}/flag/",
        "/discussion/moderation/",
        "/discussion/notifications/",
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_it_forbids_editing_or_deleting_another_users_post(thread_with_reply, learner):
    thread, reply = thread_with_reply
    ada = signed_in(learner)
    before = _snapshot()
    assert ada.get(f"/discussion/posts/{reply.pk}/edit/").status_code == 403
    assert ada.post(f"/discussion/posts/{reply.pk}/edit/", {"body": "mine now"}).status_code == 403
    assert ada.post(f"/discussion/posts/{reply.pk}/delete/").status_code == 403
    assert _snapshot() == before
    page = ada.get(f"/discussion/threads/{thread.pk}/").content.decode()
    assert f"/discussion/posts/{reply.pk}/edit/" not in page


def test_it_forbids_marking_the_answer_in_someone_elses_thread(thread_with_reply, other_learner):
    thread, reply = thread_with_reply
    response = signed_in(other_learner).post(f"/discussion/posts/{reply.pk}/answer/")
    assert response.status_code == 403
    thread.refresh_from_db()
    assert thread.answer is None


def test_it_forbids_moderation_to_non_staff(thread_with_reply, learner):
    thread, reply = thread_with_reply
    ada = signed_in(learner)
    before = _snapshot()
    assert ada.get("/discussion/moderation/").status_code == 403
    assert (
        ada.post(f"/discussion/posts/{reply.pk}/moderate/", {"action": "hide"}).status_code == 403
    )
    assert (
        ada.post(f"/discussion/threads/{thread.pk}/moderate/", {"action": "pin"}).status_code == 403
    )
    assert _snapshot() == before


def test_it_forbids_upvoting_or_flagging_your_own_post(thread_with_reply, other_learner):
    _, reply = thread_with_reply
    bob = signed_in(other_learner)
    assert bob.post(f"/discussion/posts/{reply.pk}/vote/").status_code == 403
    assert bob.post(f"/discussion/posts/{reply.pk}/flag/", {"reason": "spam"}).status_code == 403
    assert not Vote.objects.exists() and not Flag.objects.exists()


def test_it_lets_staff_edit_any_post_and_records_it(thread_with_reply, staff):
    thread, reply = thread_with_reply
    response = signed_in(staff).post(f"/discussion/posts/{reply.pk}/edit/", {"body": "Tidied"})
    assert response.status_code == 302
    reply.refresh_from_db()
    assert reply.body == "Tidied"
    action = ModerationAction.objects.get()
    assert (action.actor, action.action, action.post) == (staff, "edit", reply)


def test_it_stops_replies_to_a_locked_thread(thread_with_reply, learner, staff):
    thread, reply = thread_with_reply
    thread.moderate("lock", by=staff)
    response = signed_in(learner).post(f"/discussion/posts/{reply.pk}/reply/", {"body": "late"})
    assert response.status_code == 403
    assert not Post.objects.filter(body="late").exists()


def _csrf_token(client: Client, url: str) -> str:
    page = client.get(url).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_it_enforces_csrf_on_every_write(thread_with_reply, learner, staff, no_limits):
    thread, reply = thread_with_reply
    for user in (learner, staff):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        before = _snapshot()
        for url, data in _write_requests(thread, reply):
            assert client.post(url, data).status_code == 403, url
        assert _snapshot() == before


def test_it_accepts_a_write_with_the_csrf_token(thread_with_reply, learner, no_limits):
    thread, _ = thread_with_reply
    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    token = _csrf_token(client, f"/discussion/threads/{thread.pk}/")
    response = client.post(
        f"/discussion/posts/{opening(thread).pk}/reply/",
        {"body": "With a token", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert Post.objects.filter(body="With a token").exists()
    htmx = client.post(
        f"/discussion/posts/{opening(thread).pk}/reply/",
        {"body": "Via htmx"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert htmx.status_code == 200
