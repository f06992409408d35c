"""Shared pytest fixtures. Tests run against a real PostgreSQL: the embedded server, or
DATABASE_URL when it is set (see config/settings.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _start_databases_then_django() -> None:
    """Start the embedded servers of any URL that is not set, then let Django read the
    settings, which only look up where those servers listen.

    Done when this file is imported: pytest imports it before the conftest files further down
    (sandbox/tests/conftest.py imports models) and before pytest-django's pytest_configure,
    which then finds Django set up. DJANGO_SETTINGS_MODULE is not in the ini file because
    pytest-django would read the settings from there before any conftest is imported."""
    import django

    from config.infra import embedded

    embedded.prepare()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()


_start_databases_then_django()


@pytest.fixture(autouse=True, scope="session")
def _static_root_exists():
    """whitenoise warns, for every test client, that STATIC_ROOT does not exist (a fresh
    checkout before its first collectstatic): hundreds of lines that hid real warnings."""
    from django.conf import settings

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


@pytest.fixture(autouse=True)
def _fresh_page_caches():
    """The anonymous page cache and the learners' page shells live in the process, beyond one
    test's database: a shell made in one test (a lesson row since flushed) must not serve the
    next test's page at the same path, whose rows are new. Clearing the page cache makes every
    shell stale too (lessons/page_cache.py, revision())."""
    from lessons import page_cache

    page_cache.clear()


@pytest.fixture
def learner(django_user_model):
    return django_user_model.objects.create_user("ada", "ada@example.com", "correct-horse-42")


@pytest.fixture
def other_learner(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", "battery-staple-42")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        "grace", "grace@example.com", "staff-password-42", is_staff=True
    )


# -- Browser tests ---------------------------------------------------------------------------
# Debian's Chromium driven by Playwright; Playwright's own browser download does not work here.

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium package.")
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; the live server's ORM calls
    # happen in other threads, but fixtures that touch the database here need this.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


# Runs in every document before its own scripts, through the DevTools protocol, so the
# Content-Security-Policy does not apply to it; the binding it calls is Playwright's.
_REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation(
    `${event.effectiveDirective} refused ${event.blockedURI || "inline code"} ` +
    `(${event.sourceFile || event.documentURI}:${event.lineNumber})`
  );
});
"""


def _watch_csp(context, violations: list[str]) -> None:
    """Add every Content-Security-Policy violation in `context`'s pages to `violations`: the
    pages' `securitypolicyviolation` events and Chromium's console messages about the policy."""
    context.expose_binding("reportCspViolation", lambda _source, text: violations.append(text))
    context.add_init_script(_REPORT_CSP_VIOLATIONS)

    def console(message) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"console: {message.text}")

    context.on("console", console)


@pytest.fixture
def csp_violations() -> list[str]:
    """The Content-Security-Policy violations seen in the browser contexts of `new_context`
    (and so of `page`), as readable lines. A test that expects one clears the list."""
    return []


@pytest.fixture
def new_context(browser, live_server, csp_violations):
    """Opens browser contexts on the live server (a second visitor: `new_context()`), watched
    for Content-Security-Policy violations. They are closed after the test, which fails if
    the browser saw any violation."""
    contexts = []

    def open_context(**options):
        options = {"base_url": live_server.url, **options}
        context = browser.new_context(**options)
        _watch_csp(context, csp_violations)
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        for tab in context.pages[:1]:
            tab.wait_for_timeout(50)  # lets the last reports reach Python
        context.close()
    assert csp_violations == [], "Content-Security-Policy violations in the browser"


@pytest.fixture
def page(new_context):
    context = new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    return context.new_page()
