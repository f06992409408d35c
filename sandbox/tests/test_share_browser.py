"""Shared snapshots and plan advice in a real browser: run, Share, open the link in a fresh
browser context (no cookies: another person) and see the same result and plan; delete, and the
link answers 404. The Content-Security-Policy is watched throughout (conftest's new_context).

Set PLAN_SCREENSHOTS=<folder> to keep a screenshot of the plan view with its advice."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from playwright.sync_api import expect

from tests.accessibility import serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(new_context, shop_lesson):
    context = new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    return context.new_page()


def share_link(page, button: str) -> str:
    page.click(f"button:has-text('{button}')")
    link = page.locator(".share-link")
    expect(link).to_be_visible()
    return link.input_value()


def test_a_shared_result_and_plan_open_in_a_fresh_browser_and_go_when_deleted(page, new_context):
    page.goto("/sandbox/sql/indexes/")
    page.fill("#sandbox-sql", "SELECT id, note FROM items WHERE id IN (9, 10) ORDER BY id")
    page.click(".sandbox-actions button:has-text('Run')")
    page.wait_for_selector(".sandbox-table")
    table = page.inner_text(".sandbox-table")
    result_url = share_link(page, "Share this result")

    page.fill("#sandbox-sql", "SELECT * FROM items WHERE name = 'item 7'")
    page.click(".sandbox-actions button:has-text('Explain')")
    page.wait_for_selector(".plan-view")
    nodes = page.locator(".plan-tree .plan-name").all_inner_texts()
    advice = page.inner_text(".plan-findings")
    plan_url = share_link(page, "Share this plan")
    assert serious_violations(page) == []  # the advice and the Share answer

    stranger = new_context(viewport={"width": 1280, "height": 900}).new_page()
    stranger.goto(result_url)
    assert stranger.inner_text(".sandbox-table") == table
    assert "SELECT id, note FROM items" in stranger.inner_text(".share-sql")
    assert stranger.locator("button:has-text('Delete')").count() == 0
    assert stranger.locator("textarea, button:has-text('Run')").count() == 0  # runs nothing
    stranger.goto(plan_url)
    assert stranger.locator(".plan-tree .plan-name").all_inner_texts() == nodes
    assert stranger.inner_text(".plan-findings") == advice
    for scheme in ("light", "dark"):
        stranger.emulate_media(color_scheme=scheme)
        for url in (result_url, plan_url):
            stranger.goto(url)
            assert serious_violations(stranger) == [], (scheme, url)

    page.goto(result_url)
    page.click("button:has-text('Delete this snapshot')")
    page.wait_for_url("**/")
    assert stranger.goto(result_url).status == 404
    assert stranger.goto(plan_url).status == 200


@pytest.mark.slow
def test_the_plan_view_gives_advice_and_explains_nodes_by_keyboard(new_context, settings):
    settings.SANDBOX_FIXTURES_DIR = Path(django_settings.BASE_DIR) / "content" / "fixtures"
    settings.SANDBOX_STATEMENT_TIMEOUT_MS = 5000
    settings.SANDBOX_RUN_TIMEOUT_MS = 8000
    settings.SANDBOX_DISK_LIMIT_MB = 100
    settings.SANDBOX_TEMP_FILE_LIMIT_KB = 65536  # the sort spills about 3 MB
    call_command("content", "sync", stdout=io.StringIO())
    page = new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto("/learn/postgresql/btree-indexes/")
    # In this lesson's data a user's country and score % 10 both follow the id: correlated.
    page.fill(
        "#sandbox-sql",
        "SELECT * FROM users WHERE country IN ('DE', 'FR', 'US', 'GB', 'IN')\n"
        "  AND score % 10 IN (0, 7, 4, 1, 8)\nORDER BY email",
    )
    page.click(".sandbox-actions button:has-text('Explain')")
    page.wait_for_selector(".plan-findings")
    folder = os.environ.get("PLAN_SCREENSHOTS")
    if folder:
        page.locator(".sandbox-plan").screenshot(path=str(Path(folder) / "plan-advice.png"))
    findings = page.locator(".plan-finding")
    assert sorted(findings.evaluate_all("items => items.map(i => i.dataset.kind)")) == [
        "misestimate",
        "spill",
    ]
    assert (
        "CREATE STATISTICS users_country_score_stats ON country, (score % 10) FROM users;"
        in page.inner_text(".plan-findings")
    )
    node = page.locator(".plan-tree .plan-node").nth(1)
    node.focus()
    explanation = node.locator(".plan-explain")
    expect(explanation).to_be_visible()
    assert explanation.inner_text().startswith("Seq Scan: Reads every row of the table")
