"""People hear about replies to their threads and posts on their next visit."""

from __future__ import annotations

from django.core import mail

from lessons.models import Notification
from lessons.tests.discussion_helpers import opening, signed_in, start_thread


def test_it_shows_a_badge_and_a_list_and_marks_them_read(lesson, learner, other_learner):
    thread = start_thread(lesson, learner, "Why bloat?")
    reply = thread.add_reply(author=other_learner, parent=opening(thread), body="Vacuum it")
    ada = signed_in(learner)
    home = ada.get("/").content.decode()
    assert '<span class="notification-badge" title="Unread replies">1</span>' in home

    listing = ada.get("/discussion/notifications/").content.decode()
    assert "<strong>bob</strong> replied in <em>Why bloat?</em>" in listing
    assert "VACUUM and dead rows" in listing

    item = Notification.objects.get()
    response = ada.post("/discussion/notifications/read/", {"id": item.pk})
    assert response["Location"] == f"/discussion/threads/{thread.pk}/#post-{reply.pk}"
    assert 'class="notification-badge"' not in ada.get("/").content.decode()


def test_it_marks_all_read(lesson, learner, other_learner):
    thread = start_thread(lesson, learner)
    thread.add_reply(author=other_learner, parent=opening(thread), body="One")
    thread.add_reply(author=other_learner, parent=opening(thread), body="Two")
    ada = signed_in(learner)
    ada.post("/discussion/notifications/read/")
    assert not Notification.objects.unread().exists()


def test_it_notifies_the_author_of_the_post_replied_to(lesson, learner, other_learner, staff):
    thread = start_thread(lesson, learner)
    bobs = thread.add_reply(author=other_learner, parent=opening(thread), body="Bob here")
    thread.add_reply(author=staff, parent=bobs, body="Grace answers Bob")
    recipients = sorted(Notification.objects.values_list("recipient__username", flat=True))
    assert recipients == ["ada", "ada", "bob"]


def test_it_does_not_notify_you_of_your_own_replies(lesson, learner):
    thread = start_thread(lesson, learner)
    thread.add_reply(author=learner, parent=opening(thread), body="Replying to myself")
    assert not Notification.objects.exists()


def test_it_does_not_notify_one_user_twice_for_one_reply(lesson, learner, other_learner):
    thread = start_thread(lesson, learner)
    own = thread.add_reply(author=learner, parent=opening(thread), body="Also me")
    thread.add_reply(author=other_learner, parent=own, body="To Ada's reply in Ada's thread")
    assert Notification.objects.filter(recipient=learner).count() == 1


def test_it_emails_only_when_switched_on(
    lesson, learner, other_learner, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    thread = start_thread(lesson, learner, "Why bloat?")
    with django_capture_on_commit_callbacks(execute=True):
        thread.add_reply(author=other_learner, parent=opening(thread), body="Quiet")
    assert mail.outbox == []

    settings.DISCUSSION_EMAIL_NOTIFICATIONS = True
    with django_capture_on_commit_callbacks(execute=True):
        reply = thread.add_reply(author=other_learner, parent=opening(thread), body="Loud")
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]
    assert f"/discussion/threads/{thread.pk}/#post-{reply.pk}" in mail.outbox[0].body
