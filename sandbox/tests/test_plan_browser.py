"""A real lesson in a real browser: the plan before and after CREATE INDEX, and an exercise.

Set PLAN_SCREENSHOTS=<folder> to keep screenshots of what the learner sees."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LESSON = "/learn/postgresql/btree-indexes/"


@pytest.fixture
def page(new_context, settings):
    settings.SANDBOX_FIXTURES_DIR = Path(django_settings.BASE_DIR) / "content" / "fixtures"
    settings.SANDBOX_STATEMENT_TIMEOUT_MS = 5000
    settings.SANDBOX_RUN_TIMEOUT_MS = 8000
    settings.SANDBOX_DISK_LIMIT_MB = 100  # the lesson's 100,000 users are over the tests' 5 MB
    call_command("content", "sync", stdout=io.StringIO())
    return new_context(viewport={"width": 1280, "height": 900}).new_page()


def shoot(element, name: str) -> None:
    folder = os.environ.get("PLAN_SCREENSHOTS")
    if folder:
        element.screenshot(path=str(Path(folder) / name))


def test_it_shows_what_changed_after_create_index(page):
    page.goto(LESSON)
    query = "SELECT id, email FROM users WHERE score = 42"

    def explain():
        page.fill("#sandbox-sql", query)
        page.click(".sandbox-actions button:has-text('Explain')")
        page.wait_for_selector(".plan-view")

    explain()
    assert "Seq Scan" in page.inner_text(".plan-costliest")
    page.fill("#sandbox-sql", "CREATE INDEX users_score_idx ON users (score)")
    page.click(".sandbox-actions button:has-text('Run')")
    page.wait_for_selector(".sandbox-result")
    explain()
    page.click(".plan-history button:has-text('Compare')")
    page.wait_for_selector(".plan-compare")
    swap = page.inner_text(".plan-swap")
    assert swap == "Seq Scan on users → Bitmap Heap Scan on users"
    assert "faster" in page.inner_text(".plan-change-time")
    assert "rows read 100000 → 100" in page.inner_text(".plan-change-time")
    shoot(page.locator(".plan-compare"), "plans-before-after.png")
    node = page.locator(".plan-side").nth(1).locator(".plan-node").first
    node.focus()
    expect(page.locator(".plan-side").nth(1).locator(".plan-detail").first).to_be_visible()


def test_it_grades_an_exercise_and_unlocks_a_hint_after_a_failed_check(page):
    page.goto(LESSON)
    block = page.locator("#exercise-signups-one-day")
    hints = block.locator("details.hint")
    # No hint before the first check: the server sends them as they unlock.
    expect(block.locator("button:has-text('Give up and show the solution')")).to_be_visible()
    expect(hints).to_have_count(0)
    block.locator("textarea").fill(
        "SELECT id, email, created_at FROM users "
        "WHERE created_at BETWEEN '2026-03-01 00:00+00' AND '2026-03-02 00:00+00' "
        "ORDER BY created_at, id"
    )
    block.locator("button:has-text('Check')").click()
    page.wait_for_selector("#exercise-signups-one-day .exercise-verdict")
    text = block.locator(".exercise-verdict").inner_text()
    # BETWEEN includes the user created at exactly midnight on 2 March.
    assert "Not yet." in text and "1 row should not be there" in text
    assert "SELECT id" not in text  # no solution before a pass
    expect(hints).to_have_count(1)
    expect(hints.nth(0)).to_be_visible()
