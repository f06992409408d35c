"""/account/: profile, e-mail change by confirmation, password, signed-in devices, limits."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django.utils import timezone

from lessons.models import AccountProfile, Notification, SignedInDevice, Thread
from tests import account_history

pytestmark = pytest.mark.django_db
course = account_history.course

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)


@pytest.fixture
def ada(learner) -> Client:
    client = Client(HTTP_USER_AGENT=FIREFOX)
    client.force_login(learner)
    return client


def _link_in(message) -> str:
    return re.search(r"http://testserver(/account/email/confirm/\S+/)", message.body).group(1)


def test_it_shows_the_account_to_its_owner_only(ada, client):
    page = ada.get("/account/").content.decode()
    assert "<h1>ada</h1>" in page and "ada@example.com" in page
    assert 'href="/account/"' in page  # the header's user menu
    response = client.get("/account/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_email_changes_only_after_the_new_address_confirms_and_the_old_is_told(ada, learner):
    response = ada.post(
        "/account/email/", {"email": "ada@new.example", "current_password": "correct-horse-42"}
    )
    assert response.status_code == 302
    learner.refresh_from_db()
    assert learner.email == "ada@example.com"  # not yet
    [confirm] = mail.outbox
    assert confirm.to == ["ada@new.example"]
    link = _link_in(confirm)

    page = ada.get(link)  # opening the link (or a mail scanner doing so) changes nothing
    assert "ada@new.example" in page.content.decode()
    learner.refresh_from_db()
    assert learner.email == "ada@example.com"

    assert ada.post(link).status_code == 302
    learner.refresh_from_db()
    assert learner.email == "ada@new.example"
    notice = mail.outbox[1]
    assert notice.to == ["ada@example.com"]
    assert "ada@new.example" in notice.body

    assert ada.post(link).status_code == 400  # used once


def test_the_email_change_needs_the_password(ada, learner):
    response = ada.post(
        "/account/email/", {"email": "ada@new.example", "current_password": "guess"}
    )
    assert response.status_code == 400
    assert "That is not your current password." in response.content.decode()
    assert mail.outbox == []


def test_a_confirmation_link_works_for_its_account_only_and_not_when_altered(
    ada, learner, other_learner
):
    ada.post(
        "/account/email/", {"email": "ada@new.example", "current_password": "correct-horse-42"}
    )
    link = _link_in(mail.outbox[0])
    bob = Client()
    bob.force_login(other_learner)
    assert bob.post(link).status_code == 400
    assert ada.post(link.replace("ada", "eve", 1)[:-3] + "x/").status_code == 400
    assert get_user_model().objects.get(pk=other_learner.pk).email == "bob@example.com"


def test_an_expired_link_does_not_work(ada, learner, settings):
    ada.post(
        "/account/email/", {"email": "ada@new.example", "current_password": "correct-horse-42"}
    )
    settings.ACCOUNT_EMAIL_CHANGE_MAX_AGE_HOURS = 0
    response = ada.post(_link_in(mail.outbox[0]))
    assert response.status_code == 400 and "does not work" in response.content.decode()


def test_sign_out_everywhere_else_ends_the_other_sessions(learner):
    laptop = Client(HTTP_USER_AGENT=FIREFOX)
    phone = Client(HTTP_USER_AGENT=ANDROID_CHROME)
    for device in (laptop, phone):
        assert (
            device.post(
                "/accounts/login/", {"username": "ada", "password": "correct-horse-42"}
            ).status_code
            == 302
        )
    page = laptop.get("/account/").content.decode()
    assert "Firefox on Linux" in page and "Chrome on Android" in page
    assert SignedInDevice.objects.filter(user=learner).count() == 2

    laptop.post("/account/sessions/sign-out-others/")

    assert phone.get("/account/").status_code == 302  # back to the log-in page
    assert laptop.get("/account/").status_code == 200
    assert list(SignedInDevice.objects.values_list("browser", flat=True)) == ["Firefox on Linux"]


def test_a_device_is_written_at_log_in_and_then_not_on_every_request(learner):
    laptop = Client(HTTP_USER_AGENT=FIREFOX)
    laptop.post("/accounts/login/", {"username": "ada", "password": "correct-horse-42"})
    seen = SignedInDevice.objects.get().last_seen_at
    for _ in range(3):
        laptop.get("/progress/")
    assert SignedInDevice.objects.get().last_seen_at == seen


def test_logging_out_forgets_the_device(learner):
    laptop = Client(HTTP_USER_AGENT=FIREFOX)
    laptop.post("/accounts/login/", {"username": "ada", "password": "correct-horse-42"})
    assert SignedInDevice.objects.count() == 1
    laptop.post("/accounts/logout/")
    assert SignedInDevice.objects.count() == 0


def test_the_password_change_keeps_this_session_and_ends_the_others(learner):
    laptop, phone = Client(), Client()
    for device in (laptop, phone):
        device.post("/accounts/login/", {"username": "ada", "password": "correct-horse-42"})
    response = laptop.post(
        "/account/password/",
        {
            "old_password": "correct-horse-42",
            "new_password1": "a-new-long-passphrase-7",
            "new_password2": "a-new-long-passphrase-7",
        },
    )
    assert response.status_code == 302
    assert laptop.get("/account/").status_code == 200
    assert phone.get("/account/").status_code == 302


def test_the_display_name_is_shown_in_the_discussion(ada, learner, other_learner, course):
    response = ada.post("/account/profile/", {"display_name": "Ada Lovelace", "replies": "site"})
    assert response.status_code == 302
    thread = Thread.objects.start(lesson=course[0], author=learner, title="Hi", body="Hello")
    page = ada.get(f"/discussion/threads/{thread.pk}/").content.decode()
    assert '<span class="post-author">Ada Lovelace</span>' in page


def test_the_display_name_follows_the_username_rules(ada, learner, other_learner):
    for name, message in [
        ("B\u03bfb", "looks too much like another user"),  # Greek omicron: "Bob"
        ("gr\u202eace", "invisible text-direction character"),
    ]:
        response = ada.post("/account/profile/", {"display_name": name, "replies": "email"})
        assert response.status_code == 400
        assert message in response.content.decode()
    ada.post("/account/profile/", {"display_name": "Countess", "replies": "email"})
    signup = Client().post(
        "/accounts/signup/",
        {
            "username": "c\u043euntess",  # Cyrillic o
            "password1": "a-long-passphrase-1",
            "password2": "a-long-passphrase-1",
        },
    )
    assert "looks too much like an existing user" in signup.content.decode()


def test_replies_turned_off_make_no_notification(ada, learner, other_learner, course):
    ada.post("/account/profile/", {"display_name": "", "replies": "off"})
    assert AccountProfile.objects.get(user=learner).replies == "off"
    thread = Thread.objects.start(lesson=course[0], author=learner, title="Hi", body="Hello")
    thread.add_reply(author=other_learner, parent=thread.posts.get(), body="Hi Ada")
    assert not Notification.objects.filter(recipient=learner).exists()


def test_replies_on_the_site_only_send_no_mail(
    ada, learner, other_learner, course, settings, django_capture_on_commit_callbacks
):
    settings.DISCUSSION_EMAIL_NOTIFICATIONS = True
    thread = Thread.objects.start(lesson=course[0], author=learner, title="Hi", body="Hello")
    opening = thread.posts.get()
    with django_capture_on_commit_callbacks(execute=True):
        thread.add_reply(author=other_learner, parent=opening, body="One")
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]
    ada.post("/account/profile/", {"display_name": "", "replies": "site"})
    with django_capture_on_commit_callbacks(execute=True):
        thread.add_reply(author=other_learner, parent=opening, body="Two")
    assert len(mail.outbox) == 1
    assert Notification.objects.filter(recipient=learner).count() == 2


def test_account_changes_are_rate_limited(ada, settings):
    settings.ACCOUNT_ACTIONS_PER_HOUR = 2
    for _ in range(2):
        ada.post("/account/email/", {"email": "x@new.example", "current_password": "guess"})
    response = ada.post(
        "/account/email/", {"email": "x@new.example", "current_password": "correct-horse-42"}
    )
    assert response.status_code == 429 and response["Retry-After"] == "3600"
    assert "Too many account changes" in response.content.decode()
    assert mail.outbox == []


def test_every_form_needs_the_csrf_token(learner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    for path in (
        "/account/profile/",
        "/account/email/",
        "/account/password/",
        "/account/sessions/sign-out-others/",
        "/account/export.json",
        "/account/delete/",
    ):
        assert client.post(path, {"current_password": "correct-horse-42"}).status_code == 403


def test_a_device_whose_session_expired_is_forgotten(learner):
    laptop, phone = Client(HTTP_USER_AGENT=FIREFOX), Client(HTTP_USER_AGENT=ANDROID_CHROME)
    for device in (laptop, phone):
        device.post("/accounts/login/", {"username": "ada", "password": "correct-horse-42"})
    Session.objects.filter(session_key=phone.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    page = laptop.get("/account/").content.decode()
    assert "Firefox on Linux" in page and "Chrome on Android" not in page
    assert SignedInDevice.objects.count() == 1


def test_reply_mail_names_the_author_by_display_name(
    learner, other_learner, course, settings, django_capture_on_commit_callbacks
):
    settings.DISCUSSION_EMAIL_NOTIFICATIONS = True
    AccountProfile.objects.create(user=other_learner, display_name="Robert")
    thread = Thread.objects.start(lesson=course[0], author=learner, title="Hi", body="Hello")
    with django_capture_on_commit_callbacks(execute=True):
        thread.add_reply(author=other_learner, parent=thread.posts.get(), body="One")
    assert mail.outbox[0].subject.startswith("Robert replied")
