"""Upvotes (once per user) and the accepted answer (thread author or staff), shown first."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from lessons.models import Notification, Vote
from lessons.tests.discussion_helpers import opening, signed_in, start_thread


@pytest.fixture
def thread(lesson, learner):
    return start_thread(lesson, learner, "Which index?")


def test_it_counts_an_upvote_once_and_takes_it_back(thread, learner, other_learner):
    reply = thread.add_reply(author=other_learner, parent=opening(thread), body="A B-tree.")
    ada = signed_in(learner)
    ada.post(f"/discussion/posts/{reply.pk}/vote/")
    page = ada.get(f"/discussion/threads/{thread.pk}/").content.decode()
    assert 'aria-pressed="true"' in page
    assert '<span class="vote-count">1</span>' in page
    ada.post(f"/discussion/posts/{reply.pk}/vote/")
    assert not Vote.objects.exists()


def test_it_refuses_a_second_vote_row(thread, learner, other_learner):
    reply = thread.add_reply(author=other_learner, parent=opening(thread), body="A B-tree.")
    Vote.objects.create(post=reply, user=learner)
    with pytest.raises(IntegrityError):
        Vote.objects.create(post=reply, user=learner)


def test_it_updates_the_vote_in_place_with_htmx(thread, learner, other_learner):
    reply = thread.add_reply(author=other_learner, parent=opening(thread), body="A B-tree.")
    response = signed_in(learner).post(
        f"/discussion/posts/{reply.pk}/vote/", headers={"HX-Request": "true"}
    )
    assert response["HX-Retarget"] == f"#thread-{thread.pk}"
    assert '<span class="vote-count">1</span>' in response.content.decode()


def test_it_shows_the_marked_answer_first(thread, learner, other_learner):
    first = thread.add_reply(author=other_learner, parent=opening(thread), body="Early guess")
    best = thread.add_reply(author=other_learner, parent=opening(thread), body="Best answer")
    ada = signed_in(learner)
    page = ada.get(f"/discussion/threads/{thread.pk}/").content.decode()
    assert page.index("Early guess") < page.index("Best answer")

    ada.post(f"/discussion/posts/{best.pk}/answer/")
    page = ada.get(f"/discussion/threads/{thread.pk}/").content.decode()
    assert page.index("Best answer") < page.index("Early guess")
    assert "✓ Answer" in page
    assert "Unmark answer" in page
    thread.refresh_from_db()
    assert thread.answer == best
    assert Notification.objects.filter(recipient=other_learner, kind="answer").exists()

    ada.post(f"/discussion/posts/{best.pk}/answer/")
    thread.refresh_from_db()
    assert thread.answer is None
    assert first  # still there


def test_it_lets_staff_mark_the_answer(thread, other_learner, staff):
    reply = thread.add_reply(author=other_learner, parent=opening(thread), body="Answer")
    assert signed_in(staff).post(f"/discussion/posts/{reply.pk}/answer/").status_code == 302
    thread.refresh_from_db()
    assert thread.answer == reply


def test_it_does_not_mark_the_question_itself(thread, learner):
    response = signed_in(learner).post(f"/discussion/posts/{opening(thread).pk}/answer/")
    assert response.status_code == 403


def test_it_does_not_let_the_asker_mark_their_own_reply(thread, learner):
    own = thread.add_reply(author=learner, parent=opening(thread), body="Answering myself")
    ada = signed_in(learner)
    assert "Mark as answer" not in ada.get(f"/discussion/threads/{thread.pk}/").content.decode()
    assert ada.post(f"/discussion/posts/{own.pk}/answer/").status_code == 403
