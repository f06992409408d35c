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


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()
