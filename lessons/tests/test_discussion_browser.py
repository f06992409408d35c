"""The discussion in a real Chromium: no payload ever runs, and the whole loop of asking,
answering and being told about it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from lessons.models import Thread
from lessons.tests.xss_payloads import XSS_PAYLOADS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DISCUSSION_URL = "/learn/postgresql/vacuum/discussion/"


def _log_in(page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_it_runs_no_payload(page, lesson, learner, settings, csp_violations):
    settings.DISCUSSION_THREADS_PER_PAGE = 1000
    for payload in XSS_PAYLOADS:
        Thread.objects.start(lesson=lesson, author=learner, title=payload[:150], body=payload)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto(DISCUSSION_URL)
    expect(page.locator(".thread")).to_have_count(len(XSS_PAYLOADS))
    # Poke every element in the discussion the ways a victim would.
    page.evaluate(
        """() => {
        for (const element of document.querySelectorAll('#discussion *')) {
          for (const type of ['mouseover', 'mouseenter', 'focus', 'toggle', 'load', 'error']) {
            element.dispatchEvent(new Event(type));
          }
        }
      }"""
    )
    for button in page.locator(".run-in-sandbox").all():
        button.click()
    page.wait_for_timeout(300)
    assert dialogs == []
    # Nor did anything try to (the policy would have refused it and said so).
    assert csp_violations == []


def test_it_asks_answers_and_notifies(
    page, new_context, lesson, learner, other_learner, csp_violations
):
    # Ada, signed out, is sent to log in and comes back to the discussion.
    page.goto(DISCUSSION_URL)
    expect(page.get_by_text("No discussion yet. Be the first to ask a question.")).to_be_visible()
    page.locator(".discussion-signin").get_by_role("link", name="log in").click()
    _log_in(page, "ada", "correct-horse-42")
    expect(page).to_have_url(re.compile(r"/learn/postgresql/vacuum/discussion/#discussion$"))

    # She starts a thread from a starter topic: the title is filled in for her.
    page.get_by_role("link", name="Have you ever needed VACUUM FULL?").click()
    title = page.get_by_label("Title")
    expect(title).to_have_value("Have you ever needed VACUUM FULL?")
    body = page.get_by_label("Your post")
    text = "We ran it once and **locked** the table for an hour."
    body.fill(text)
    expect(page.locator("#new-thread-form .char-count").last).to_have_text(str(len(text)))
    page.get_by_role("button", name="Post thread").click()
    thread = page.locator(".thread").first
    expect(thread.get_by_role("heading")).to_have_text("Have you ever needed VACUUM FULL?")
    expect(thread.locator("strong")).to_have_text("locked")

    # Bob, in his own browser, replies and then edits his reply in place.
    bob_context = new_context()
    bob = bob_context.new_page()
    bob.goto("/accounts/login/?next=" + DISCUSSION_URL)
    _log_in(bob, "bob", "battery-staple-42")
    bob.locator(".post-opening").get_by_role("link", name="Reply").click()
    bob.get_by_label("Your reply").fill("Try pg_repack instead.")
    bob.get_by_role("button", name="Post reply").click()
    reply = bob.locator(".replies .post").first
    expect(reply.locator(".post-body")).to_have_text("Try pg_repack instead.")
    reply.get_by_role("link", name="Edit").click()
    reply.get_by_label("Your post").fill("Try `pg_repack` instead: no long lock.")
    bob.get_by_role("button", name="Save changes").click()
    reply = bob.locator(".replies .post").first
    expect(reply.locator(".post-body code")).to_have_text("pg_repack")
    expect(reply.locator(".post-edited")).to_be_visible()

    # Ada sees the badge, upvotes Bob's reply, marks it as the answer and thanks him.
    page.reload()
    expect(page.locator(".notifications-link .notification-badge")).to_have_text("1")
    bobs_reply = page.locator(".replies .post").first
    bobs_reply.get_by_role("button", name=re.compile("upvote")).click()
    bobs_reply = page.locator(".replies .post").first
    expect(bobs_reply.locator(".vote-count")).to_have_text("1")
    bobs_reply.get_by_role("button", name="Mark as answer").click()
    expect(page.locator(".post.is-answer .tag-answer")).to_have_text("✓ Answer")
    expect(page.locator(".thread .thread-meta .tag-answer")).to_have_text("Answered")
    page.locator(".post.is-answer").get_by_role("link", name="Reply").click()
    page.get_by_label("Your reply").fill("Thanks, that worked.")
    page.get_by_role("button", name="Post reply").click()
    expect(page.get_by_text("Thanks, that worked.")).to_be_visible()
    expect(page.locator(".replying-to").first).to_contain_text("@bob")

    # Bob is told on his next visit.
    bob.goto("/")
    expect(bob.locator(".notifications-link .notification-badge")).to_have_text("2")
    bob.locator(".notifications-link").click()
    expect(bob.get_by_text("ada replied in")).to_be_visible()
    expect(bob.get_by_text("ada marked your reply as the answer in")).to_be_visible()
    bob.get_by_text("ada replied in").click()
    expect(bob.get_by_text("Thanks, that worked.")).to_be_visible()
    expect(bob.locator(".notifications-link .notification-badge")).to_have_text("1")
    bob_context.close()
    assert csp_violations == []  # the whole loop works under the Content-Security-Policy
