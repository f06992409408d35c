"""Every page type passes axe-core with no serious or critical violation, in both themes."""

from __future__ import annotations

import pytest
from django.conf import settings

from lessons.sync import sync_content
from tests.accessibility import serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [
    "/",
    "/accounts/signup/",
    "/accounts/login/",
    "/accounts/password_reset/",
    "/learn/postgresql/",
    "/learn/postgresql/connecting-to-postgresql/",  # a reading lesson
    "/learn/postgresql/joins/",  # a sandbox lesson
    "/search/?q=index",
    "/progress/",
    "/review/",
    "/learn/postgresql/joins/discussion/",
]


@pytest.fixture(autouse=True)
def published():
    # content/ passes `content check` (CI); re-running its sandbox checks would add ~18 s.
    sync_content(settings.CONTENT_DIR, run_checks=False)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("path", PAGES)
def test_it_has_no_serious_accessibility_violations(page, path, scheme):
    page.emulate_media(color_scheme=scheme)
    page.goto(path)
    assert serious_violations(page) == []


def test_the_keyboard_reaches_sign_up_with_a_visible_focus(page):
    page.goto("/")
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Sign up":
            break
    else:
        pytest.fail("Tab never reached the Sign up link")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
