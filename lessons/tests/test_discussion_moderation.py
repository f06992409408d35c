"""Flags, the staff queue, hide/restore, lock and pin, each recorded with who and when."""

from __future__ import annotations

import pytest

from lessons.models import Flag, ModerationAction
from lessons.tests.discussion_helpers import DISCUSSION_URL, opening, signed_in, start_thread


@pytest.fixture
def reply(lesson, learner, other_learner):
    thread = start_thread(lesson, learner)
    return thread.add_reply(author=other_learner, parent=opening(thread), body="Buy cheap pills")


def test_it_takes_a_flag_with_a_reason(reply, learner):
    ada = signed_in(learner)
    form = ada.get(f"/discussion/posts/{reply.pk}/flag/").content.decode()
    assert "Spam or advertising" in form
    response = ada.post(
        f"/discussion/posts/{reply.pk}/flag/",
        {"reason": "spam", "note": "ads"},
        headers={"HX-Request": "true"},
    )
    assert "a moderator will take a look" in response.content.decode()
    flag = Flag.objects.get()
    assert (flag.reporter, flag.reason, flag.note) == (learner, "spam", "ads")
    # Flagging again updates the open flag rather than piling up.
    ada.post(f"/discussion/posts/{reply.pk}/flag/", {"reason": "abuse"})
    assert Flag.objects.get().reason == "abuse"


def test_it_lists_flagged_posts_for_staff_and_hides_them(reply, learner, staff):
    reply.flag(reporter=learner, reason="spam", note="ads")
    moderator = signed_in(staff)
    queue = moderator.get("/discussion/moderation/").content.decode()
    assert "Buy cheap pills" in queue
    assert "Spam or advertising" in queue and "ads" in queue

    response = moderator.post(
        f"/discussion/posts/{reply.pk}/moderate/",
        {"action": "hide", "note": "spam", "from": "queue"},
    )
    assert response["Location"] == "/discussion/moderation/"
    assert "Nothing flagged" in moderator.get("/discussion/moderation/").content.decode()
    learner_view = signed_in(learner).get(DISCUSSION_URL).content.decode()
    assert "Buy cheap pills" not in learner_view
    assert "This post was hidden by a moderator." in learner_view
    assert "Buy cheap pills" in moderator.get(DISCUSSION_URL).content.decode()

    moderator.post(f"/discussion/posts/{reply.pk}/moderate/", {"action": "restore"})
    assert "Buy cheap pills" in signed_in(learner).get(DISCUSSION_URL).content.decode()
    actions = list(ModerationAction.objects.order_by("created_at").values_list("actor", "action"))
    assert actions == [(staff.pk, "hide"), (staff.pk, "restore")]
    assert Flag.objects.get().resolved_by == staff


def test_it_locks_and_pins_threads(lesson, learner, staff):
    older = start_thread(lesson, learner, "Older thread")
    start_thread(lesson, learner, "Newer thread")
    moderator = signed_in(staff)
    moderator.post(f"/discussion/threads/{older.pk}/moderate/", {"action": "pin"})
    moderator.post(f"/discussion/threads/{older.pk}/moderate/", {"action": "lock"})
    page = signed_in(learner).get(DISCUSSION_URL).content.decode()
    assert page.index("Older thread") < page.index("Newer thread")
    assert "Pinned" in page and "Locked" in page
    assert "This thread is locked" in page
    assert set(ModerationAction.objects.values_list("action", flat=True)) == {"pin", "lock"}


def test_it_keeps_one_pinned_thread_per_lesson(lesson, learner, staff):
    first = start_thread(lesson, learner, "First")
    second = start_thread(lesson, learner, "Second")
    first.moderate("pin", by=staff)
    second.moderate("pin", by=staff)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_pinned, second.is_pinned) == (False, True)


def test_it_shows_moderation_in_the_admin(reply, learner, staff):
    reply.flag(reporter=learner, reason="spam")
    reply.moderate("hide", by=staff)
    admin = signed_in(staff)
    staff.is_superuser = True
    staff.save()
    for url in (
        "/admin/lessons/thread/",
        "/admin/lessons/post/",
        "/admin/lessons/flag/",
        "/admin/lessons/moderationaction/",
        "/admin/lessons/vote/",
        "/admin/lessons/notification/",
        f"/admin/lessons/post/{reply.pk}/change/",
    ):
        assert admin.get(url).status_code == 200, url
    assert "Hid post" in admin.get("/admin/lessons/moderationaction/").content.decode()
