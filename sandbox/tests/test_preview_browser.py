"""The staff preview in a real browser: a draft's exercise is checked on the draft itself; a
failed check shows its message in place, and the draft stays in the form."""

from __future__ import annotations

import pytest

from sandbox.tests.test_preview_check import lesson_text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def content(tmp_path, settings):
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "prices.sql").write_text(
        "CREATE TABLE items (id int PRIMARY KEY, price int NOT NULL);\n"
        "INSERT INTO items SELECT g, g * 10 FROM generate_series(1, 30) g;\nANALYZE;\n"
    )
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "track.yml").write_text("title: Shop\nsummary: Shop.\norder: 5\n")
    settings.CONTENT_DIR = tmp_path
    settings.SANDBOX_FIXTURES_DIR = tmp_path / "fixtures"
    return tmp_path


def preview(page, draft: str) -> None:
    """Log in as staff and preview ``draft`` as shop/01-prices.md."""
    page.goto("/accounts/login/?next=/learn/preview/")
    page.get_by_label("Username").fill("grace")
    page.get_by_label("Password").fill("staff-password-42")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/learn/preview/")
    page.fill("#id_path", "shop/01-prices.md")
    page.fill("#id_source", draft)
    page.get_by_role("button", name="Preview").click()
    page.wait_for_selector(".preview-ok")


def test_a_failed_check_shows_its_message_in_place_and_keeps_the_draft(page, staff, content):
    draft = lesson_text(55)
    preview(page, draft)

    exercise = page.locator("#exercise-cheap")
    exercise.locator("textarea").fill("SELECT id FROM items WHERE price <= 60 ORDER BY id")
    exercise.get_by_role("button", name="Check").click()
    feedback = exercise.locator(".exercise-feedback")
    feedback.locator(".exercise-failed").wait_for()
    assert "Not yet." in feedback.inner_text()
    assert "1 row should not be there" in feedback.inner_text()
    # The page was not replaced: the draft is still in the form, the rendered lesson beside it.
    assert page.input_value("#id_source") == draft
    assert page.url.endswith("/learn/preview/")
    assert page.locator(".preview-ok").is_visible()

    exercise.locator("textarea").fill("SELECT id FORM items")
    exercise.get_by_role("button", name="Check").click()
    exercise.locator(".exercise-feedback .sandbox-error").wait_for()
    assert "syntax error" in feedback.inner_text()
    assert page.input_value("#id_source") == draft

    exercise.locator("textarea").fill("SELECT id FROM items WHERE price < 55 ORDER BY id")
    exercise.get_by_role("button", name="Check").click()
    feedback.locator(".exercise-passed").wait_for()
    assert "Correct." in feedback.inner_text()


def test_a_draft_example_runs_on_the_draft_fixture_in_the_preview(page, staff, content):
    preview(page, lesson_text(55))
    page.get_by_role("button", name="Run in sandbox").click()
    page.wait_for_selector("#sandbox-output .sandbox-table")
    assert page.inner_text("#sandbox-output .sandbox-table tbody") == "30"
    assert page.input_value("#sandbox-sql") == "SELECT count(*) AS n FROM items;"
