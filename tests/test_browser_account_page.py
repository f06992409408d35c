"""The account page in a real Chromium: reached from the header, saves a display name, lists
this device, downloads the export, and passes axe in both themes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.accessibility import serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("correct-horse-42")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".account-name")).to_have_text("ada")


def test_it_manages_the_account_from_the_header(page, learner):
    _log_in(page)
    page.locator(".account-name").click()
    expect(page.get_by_role("heading", name="ada", level=1)).to_be_visible()

    page.get_by_label("Display name").fill("Ada Lovelace")
    page.get_by_label("On the site only").check()
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()
    expect(page.get_by_label("Display name")).to_have_value("Ada Lovelace")
    expect(page.get_by_label("On the site only")).to_be_checked()

    devices = page.locator(".account-devices tbody tr")
    expect(devices).to_have_count(1)
    expect(devices.first).to_contain_text("on Linux")
    expect(devices.first).to_contain_text("this device")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download my data").click()
    data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert data["profile"]["display_name"] == "Ada Lovelace"

    page.get_by_label("New e-mail address").fill("ada@new.example")
    page.get_by_label("Current password").fill("wrong")
    page.get_by_role("button", name="Send confirmation link").click()
    expect(page.get_by_text("That is not your current password.")).to_be_visible()


def test_it_deletes_the_account_after_the_password(page, learner):
    _log_in(page)
    page.goto("/account/")
    page.get_by_role("link", name="Delete my account…").click()
    page.get_by_label("Your password").fill("correct-horse-42")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_text("Your account and your data are deleted.")).to_be_visible()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("path", ["/account/", "/account/delete/"])
def test_it_has_no_serious_accessibility_violations(page, learner, path, scheme):
    _log_in(page)
    page.emulate_media(color_scheme=scheme)
    page.goto(path)
    assert serious_violations(page) == []


def test_an_invalid_form_passes_axe_too(page, learner):
    _log_in(page)
    page.goto("/account/")
    page.get_by_label("Display name").fill("gr\u202eace")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("invisible text-direction character")).to_be_visible()
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        assert serious_violations(page) == []
