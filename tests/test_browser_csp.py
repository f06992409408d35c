"""The Content-Security-Policy in a real Chromium: injected script does not run, and htmx runs
none from the fragments it swaps in. (Every browser test fails on a CSP violation: conftest.py.)"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What an attacker would like a swapped fragment to do: a script of the site's own origin (the
# policy allows those, so only htmx's allowScriptTags=false stops it), inline script, and an
# hx-on handler (htmx would evaluate it, unless allowEval=false).
FRAGMENT = """
<p id="swapped-in">A fragment with script in it.</p>
<script src="/swapped.js"></script>
<script>window.inlineRan = true;</script>
<button id="hx-on-button" hx-on:click="window.handlerRan = true">Click</button>
"""


def test_it_refuses_and_reports_injected_inline_script(page, csp_violations):
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    # Evaluated through the DevTools protocol, which the policy does not cover, as a stand-in
    # for markup that slipped into the page.
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.injectedRan = true";
          document.body.append(script);
        }"""
    )
    page.wait_for_timeout(100)
    assert page.evaluate("window.injectedRan") is None
    assert any("script-src" in violation for violation in csp_violations), csp_violations
    csp_violations.clear()  # expected here; the fixture fails a test on any left


def test_htmx_runs_no_script_from_a_swapped_fragment(page):
    page.route("**/fragment", lambda route: route.fulfill(body=FRAGMENT, content_type="text/html"))
    page.route(
        "**/swapped.js",
        lambda route: route.fulfill(
            body="window.externalRan = true;", content_type="text/javascript"
        ),
    )
    page.goto("/")
    page.evaluate("htmx.ajax('GET', '/fragment', {target: '#main', swap: 'innerHTML'})")
    expect(page.locator("#swapped-in")).to_be_visible()
    page.locator("#hx-on-button").click()
    page.wait_for_timeout(200)
    ran = page.evaluate("[window.externalRan, window.inlineRan, window.handlerRan]")
    assert ran == [None, None, None]
    # And htmx did not even try (a try would be a CSP violation, failing this test on teardown).
