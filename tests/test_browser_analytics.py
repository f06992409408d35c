"""The staff page "Where learners struggle" in a real Chromium, on content/'s joins lesson with
six learners' attempts: found from the lesson page, read in both themes, exported as CSV.

Set ANALYTICS_SCREENSHOTS=<folder> (docs/screenshots) to keep screenshots of both themes."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from lessons.models import Lesson
from lessons.sync import sync_content
from tests.accessibility import serious_violations
from tests.analytics_seed import COUNT_FEEDBACK, WHERE_FEEDBACK, learners, struggle

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LESSON_URL = "/learn/postgresql/joins/"
ANALYTICS_URL = "/staff/analytics/postgresql/joins/"


@pytest.fixture
def seeded() -> Lesson:
    report = sync_content(settings.CONTENT_DIR)
    assert report.errors == []
    lesson = Lesson.objects.get(track__slug="postgresql", slug="joins")
    struggle(lesson, learners(6))
    return lesson


def shoot(target, name: str) -> None:
    """A screenshot of the page's viewport, or of one element."""
    folder = os.environ.get("ANALYTICS_SCREENSHOTS")
    if folder:
        target.screenshot(path=str(Path(folder) / name))


def log_in(page, next_url: str) -> None:
    page.goto(f"/accounts/login/?next={next_url}")
    page.get_by_label("Username").fill("grace")
    page.get_by_label("Password").fill("staff-password-42")
    page.get_by_role("button", name="Log in").click()


def test_staff_see_where_learners_struggle_in_a_lesson(page, seeded, staff, tmp_path):
    log_in(page, LESSON_URL)
    page.get_by_role("link", name="Where learners struggle in this lesson").click()
    expect(page).to_have_url(f"{page.url.split('/staff/')[0]}{ANALYTICS_URL}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Joins")

    # Who came and who finished: the six, and the staff member who just opened the lesson.
    reach = page.locator(".stat-grid").first
    expect(reach.locator(".stat").nth(0)).to_contain_text("7 learners")
    expect(reach.locator(".stat").nth(1)).to_contain_text("43% of those who opened it")

    # The quiz question most got wrong, and where the wrong answers went.
    question = page.locator("article", has=page.locator("#q-on-vs-where"))
    expect(question.locator(".first-try")).to_contain_text("33% right at the first try (2 of 6)")
    expect(question.locator(".first-try")).to_have_class("first-try is-low")
    spread = question.locator("tbody tr")
    expect(spread).to_have_count(3)
    expect(spread.nth(1)).to_contain_text("They are kept with NULLs in b's columns")
    expect(spread.nth(1).locator("td").first).to_have_text("4")
    expect(spread.nth(2).locator("td").first).to_have_text("1")
    expect(spread.nth(0)).to_contain_text("✓ correct")

    # The exercise: one row for the WHERE mistake made with three dates, one for count(*).
    exercise = page.locator("article", has=page.locator("#ex-march-orders-per-customer"))
    expect(exercise).to_contain_text("10 by 6 learners")
    expect(exercise).to_contain_text("1 of 4 who passed")
    failing = exercise.locator(".failing-table tbody tr")
    expect(failing).to_have_count(2)
    expect(failing.nth(0).locator("td").nth(0)).to_have_text("3")
    expect(failing.nth(0).locator("td").nth(1)).to_have_text("4")
    expect(failing.nth(0)).to_contain_text(WHERE_FEEDBACK[0])
    expect(failing.nth(1).locator("td").nth(0)).to_have_text("2")
    expect(failing.nth(1)).to_contain_text(COUNT_FEEDBACK[0])
    # The other exercise, never tried, has no table.
    other = page.locator("article", has=page.locator("#ex-march-order-totals"))
    expect(other.locator(".failing-table")).to_have_count(0)

    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        assert serious_violations(page) == [], scheme
    page.emulate_media(color_scheme="light")
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, "analytics.png")
    shoot(question, "analytics-quiz.png")
    page.emulate_media(color_scheme="dark")
    shoot(exercise, "analytics-exercise-dark.png")

    # The CSV, downloaded as staff would.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    path = tmp_path / "lesson.csv"
    download.value.save_as(path)
    assert download.value.suggested_filename == "postgresql-joins-analytics.csv"
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    values = {(r["part"], r["item"], r["measure"]): r["value"] for r in rows}
    assert values[("quiz", "on-vs-where", "right_first_try")] == "2"
    assert values[("quiz", "on-vs-where/b", "picked_in_wrong_answer")] == "4"
    failing_rows = [r for r in rows if r["part"] == "failing_answer"]
    assert [(r["item"], r["measure"], r["value"]) for r in failing_rows] == [
        ("march-orders-per-customer", "attempts", "4"),
        ("march-orders-per-customer", "learners", "3"),
        ("march-orders-per-customer", "attempts", "2"),
        ("march-orders-per-customer", "learners", "2"),
    ]


def test_the_track_summary_leads_to_each_lesson(page, seeded, staff):
    log_in(page, "/staff/analytics/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Where learners struggle")
    assert serious_violations(page) == []
    page.get_by_role("link", name="PostgreSQL").first.click()
    row = page.locator("tr", has=page.get_by_role("link", name="Joins", exact=True))
    expect(row.locator("td")).to_have_text(["6", "6", "3", "50%", "33%", "10", "17%", "25%"])
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        assert serious_violations(page) == [], scheme
    shoot(page, "analytics-track-dark.png")
    row.get_by_role("link", name="Joins", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Joins")


def test_a_learner_who_is_not_staff_is_refused(page, seeded, learner):
    page.goto(LESSON_URL)
    expect(page.get_by_role("link", name="Where learners struggle in this lesson")).to_have_count(0)
    page.goto(f"/accounts/login/?next={ANALYTICS_URL}")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("correct-horse-42")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("403")).to_be_visible()
