from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import expect

from lessons.sync import sync_content

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(autouse=True)
def published(transactional_db):
    # content/ passes `content check` (CI); re-running its sandbox checks would add ~18 s.
    sync_content(settings.CONTENT_DIR, run_checks=False)


def test_it_goes_to_the_next_and_previous_lesson_with_j_and_k(page, live_server):
    page.goto(f"{live_server.url}/learn/postgresql/indexes-and-plans/")
    page.keyboard.press("j")
    page.wait_for_url("**/learn/postgresql/connections-and-pooling/")
    page.keyboard.press("k")
    page.wait_for_url("**/learn/postgresql/indexes-and-plans/")
    page.keyboard.press("ArrowLeft")
    page.wait_for_url("**/learn/postgresql/first-queries/")


def test_it_ignores_the_keys_while_typing(page, live_server):
    page.goto(f"{live_server.url}/learn/postgresql/first-queries/")
    page.click("#selfcheck-where-vs-having-text")
    page.keyboard.type("jk")
    assert page.url.endswith("/learn/postgresql/first-queries/")
    assert page.input_value("#selfcheck-where-vs-having-text") == "jk"


def test_it_shows_copy_buttons_on_code(page, live_server):
    page.goto(f"{live_server.url}/learn/postgresql/first-queries/")
    # Shown by a script once the clipboard is known to be usable: wait for it.
    expect(page.locator(".copy-button").first).to_be_visible()
    # Examples' "Run in sandbox" buttons are the sandbox's to show (sandbox/tests/test_browser.py).
