"""A learner's first minute in a real Chromium: home page, sign up, log out, log in."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_signs_up_logs_out_and_logs_in(page):
    page.goto("/")
    expect(page.get_by_role("heading", name="Learn PostgreSQL by running it.")).to_be_visible()

    page.get_by_role("link", name="Sign up").first.click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    page.get_by_label("Username").fill("margo")
    page.get_by_label("Password", exact=True).fill("a-long-passphrase-1")
    page.get_by_label("Password confirmation").fill("a-long-passphrase-1")
    page.get_by_role("button", name="Sign up").click()

    expect(page.locator(".account-name")).to_have_text("margo")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()

    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Username").fill("margo")
    page.get_by_label("Password").fill("a-long-passphrase-1")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".account-name")).to_have_text("margo")
    expect(page).to_have_url(
        f"{page.context.pages[0].url.split('/')[0]}//{page.url.split('/')[2]}/"
    )


def test_it_shows_sign_up_errors_next_to_the_fields(page, learner):
    page.goto("/accounts/signup/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password", exact=True).fill("a-long-passphrase-1")
    page.get_by_label("Password confirmation").fill("a-different-one-2")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("A user with that username already exists.")).to_be_visible()
    expect(page.get_by_text("The two password fields didn’t match.")).to_be_visible()
