"""The learning loop in a real Chromium: signed out, then signed up, then on a second browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from lessons import page_shells

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_keeps_a_visitors_progress_through_sign_up_and_on_another_browser(
    page, new_context, course
):
    page.goto("/learn/sql/lesson-1/")
    header = page.locator("#lesson-progress")
    expect(header).to_contain_text("Step 1/3 · 0% through track")

    question = page.locator("#quiz-pick-one")
    question.locator("label.choice", has_text="VACUUM").click()
    question.get_by_role("button", name="Check answer").click()
    expect(question).to_contain_text("✗ Not quite.")
    expect(question).to_contain_text("VACUUM cleans up dead rows")
    question.get_by_role("button", name="Try again").click()
    expect(question.get_by_role("button", name="Check answer")).to_be_visible()
    question.locator("label.choice", has_text="SELECT").click()
    question.get_by_role("button", name="Check answer").click()
    expect(question).to_contain_text("✓ Right.")
    expect(question).to_contain_text("SELECT is the query that returns rows.")

    confidence = page.locator("#confidence")
    expect(confidence).to_contain_text("Not saved yet")
    confidence.get_by_text("Mostly").click()
    expect(page.locator("#confidence")).to_contain_text("✓ Saved just now: “Mostly”")

    page.get_by_role("button", name="Mark lesson as done").click()
    expect(page.locator("#lesson-done")).to_contain_text("✓ Lesson done.")
    # The header follows without a reload (htmx "progressChanged").
    expect(header).to_contain_text("33% through track")
    expect(page.locator(".lesson-steps .current .step-mark")).to_have_text("✓ (done)")

    page.goto("/learn/sql/lesson-2/")
    page.get_by_role("button", name="Mark lesson as done").click()
    expect(page.locator("#lesson-progress")).to_contain_text("Step 2/3 · 67% through track")

    page.get_by_role("banner").get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill("margo")
    page.get_by_label("Password", exact=True).fill("a-long-passphrase-1")
    page.get_by_label("Password confirmation").fill("a-long-passphrase-1")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("We saved your progress from this device")).to_be_visible()
    expect(page.locator(".account-name")).to_have_text("margo")
    expect(page.locator("#lesson-progress")).to_contain_text("67% through track")
    expect_same_progress(page)

    other = new_context(viewport={"width": 1280, "height": 900})
    laptop = other.new_page()
    laptop.goto("/accounts/login/")
    laptop.get_by_label("Username").fill("margo")
    laptop.get_by_label("Password").fill("a-long-passphrase-1")
    laptop.get_by_role("button", name="Log in").click()
    expect(laptop.locator(".account-name")).to_have_text("margo")
    expect(laptop.get_by_text("We saved your progress from this device")).to_have_count(0)
    expect_same_progress(laptop)
    laptop.goto("/learn/sql/lesson-1/")
    expect(laptop.locator("#confidence")).to_contain_text("✓ Saved: “Mostly”")
    expect(laptop.locator("#quiz-pick-one")).to_contain_text("You answered this right before")
    other.close()


def expect_same_progress(tab) -> None:
    tab.goto("/progress/")
    expect(tab.get_by_text("2/3 lessons done · 67%")).to_be_visible()
    lesson_1 = tab.locator("tr", has_text="Lesson 1")
    expect(lesson_1).to_contain_text("Done")
    expect(lesson_1).to_contain_text("0/1 right · 1 not tried")  # wrong on the first try
    expect(lesson_1).to_contain_text("Mostly")
    expect(tab.locator("tr", has_text="Lesson 2")).to_contain_text("Done")
    expect(tab.locator("tr", has_text="Lesson 3")).to_contain_text("Not started")
    expect(tab.locator(".review-list")).to_contain_text("Lesson 1")


def test_it_works_the_same_on_a_signed_in_page_shell(page, course, learner, settings):
    # Page shells and the anonymous page cache on, as in production (tests turn them off).
    settings.LESSON_PAGE_CACHE_SECONDS = 60
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("correct-horse-42")
    page.get_by_role("button", name="Log in").click()
    page.goto("/learn/sql/lesson-1/")
    page.goto("/learn/sql/lesson-1/")  # from the shell the first visit made
    expect(page.locator(".account-name")).to_have_text("ada")
    assert page_shells.get("/learn/sql/lesson-1/") is not None
    question = page.locator("#quiz-pick-one")
    question.locator("label.choice", has_text="SELECT").click()
    question.get_by_role("button", name="Check answer").click()
    expect(question).to_contain_text("✓ Right.")
    page.locator("#confidence").get_by_text("Mostly").click()
    expect(page.locator("#confidence")).to_contain_text("✓ Saved just now: “Mostly”")
    page.get_by_role("button", name="Mark lesson as done").click()
    expect(page.locator("#lesson-progress")).to_contain_text("33% through track")

    page.reload()
    expect(page.locator("#confidence")).to_contain_text("✓ Saved: “Mostly”")
    expect(page.locator("#quiz-pick-one")).to_contain_text("You answered this right before")
    expect(page.locator("#lesson-done")).to_contain_text("✓ Lesson done.")
    expect(page.locator(".lesson-steps .current .step-mark")).to_have_text("✓ (done)")
    page.goto("/learn/sql/lesson-2/")
    expect(page.locator(".lesson-steps li.is-done")).to_have_count(1)
