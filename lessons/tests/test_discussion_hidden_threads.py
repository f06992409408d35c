"""A thread whose opening post a moderator hid is hidden everywhere except to staff: its title
on the reply, edit and flag pages of its replies and in notifications, and no reply form opens
on a hidden post (issue #18 item 5)."""

from __future__ import annotations

import pytest

from lessons.tests.discussion_helpers import opening, signed_in, start_thread

SECRET_TITLE = "Buy followers at spam.example"


@pytest.fixture
def hidden_thread(lesson, learner, other_learner, staff):
    thread = start_thread(lesson, other_learner, title=SECRET_TITLE)
    reply = thread.add_reply(author=learner, parent=opening(thread), body="Is this allowed?")
    thread.add_reply(author=other_learner, parent=reply, body="Sure, click the link.")
    opening(thread).moderate("hide", by=staff)
    return thread


def _reply_by(thread, user):
    return thread.posts.filter(author=user, parent__isnull=False).first()


@pytest.mark.parametrize("page", ["reply", "flag"])
def test_it_keeps_the_hidden_threads_title_off_the_pages_of_its_replies(
    hidden_thread, other_learner, learner, page
):
    reply = _reply_by(hidden_thread, other_learner)
    response = signed_in(learner).get(f"/discussion/posts/{reply.pk}/{page}/")
    text = response.content.decode()
    assert SECRET_TITLE not in text
    if response.status_code == 200:
        assert "[hidden thread]" in text


def test_it_keeps_the_title_off_the_edit_page_of_a_reply(hidden_thread, learner):
    reply = _reply_by(hidden_thread, learner)
    response = signed_in(learner).get(f"/discussion/posts/{reply.pk}/edit/")
    assert response.status_code == 200
    text = response.content.decode()
    assert SECRET_TITLE not in text and "[hidden thread]" in text


def test_it_opens_no_reply_form_on_a_hidden_post(hidden_thread, learner):
    response = signed_in(learner).get(f"/discussion/posts/{opening(hidden_thread).pk}/reply/")
    assert response.status_code == 403
    assert SECRET_TITLE not in response.content.decode()


def test_it_takes_no_reply_to_a_hidden_post(hidden_thread, learner):
    before = hidden_thread.posts.count()
    response = signed_in(learner).post(
        f"/discussion/posts/{opening(hidden_thread).pk}/reply/", {"body": "Replying anyway"}
    )
    assert response.status_code == 403
    assert hidden_thread.posts.count() == before


def test_it_offers_no_reply_link_in_a_hidden_thread(hidden_thread, learner, client):
    page = signed_in(learner).get(f"/discussion/threads/{hidden_thread.pk}/")
    assert f"/discussion/posts/{opening(hidden_thread).pk}/reply/" not in page.content.decode()
    assert "/reply/" not in page.content.decode()


def test_it_keeps_the_title_out_of_notifications(hidden_thread, other_learner):
    # other_learner started the thread; learner's reply notified them.
    response = signed_in(other_learner).get("/discussion/notifications/")
    text = response.content.decode()
    assert "replied" in text
    assert SECRET_TITLE not in text and "[hidden thread]" in text


def test_staff_still_see_the_title_and_can_reply(hidden_thread, staff, other_learner):
    moderator = signed_in(staff)
    reply = _reply_by(hidden_thread, other_learner)
    assert SECRET_TITLE in moderator.get(f"/discussion/posts/{reply.pk}/reply/").content.decode()
    opening_reply = moderator.get(f"/discussion/posts/{opening(hidden_thread).pk}/reply/")
    assert opening_reply.status_code == 200


def test_a_visible_thread_still_shows_its_title(lesson, learner, other_learner):
    thread = start_thread(lesson, other_learner, title="Why is VACUUM slow?")
    response = signed_in(learner).get(f"/discussion/posts/{opening(thread).pk}/reply/")
    assert response.status_code == 200
    assert "Why is VACUUM slow?" in response.content.decode()
