"""A newcomer's first session, end to end in Chromium, with a screenshot at every step saved
under .ci/artifacts/journey/ (CI keeps them; git ignores them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from lessons.models import Exercise, Lesson, QuizQuestion
from lessons.sync import sync_content
from sandbox import connections, roles

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SHOTS = Path(settings.BASE_DIR) / ".ci" / "artifacts" / "journey"
PASSWORD = "a-long-passphrase-1"


@pytest.fixture
def published():
    # content/ passes `content check` (CI); re-running its sandbox checks would add ~18 s.
    report = sync_content(settings.CONTENT_DIR, run_checks=False)
    assert report.errors == []
    yield
    # The journey's sandboxes live on the sandbox server, outside the test transaction.
    connections.close_idle_connections()
    names = sorted(roles.existing_names(0))
    for start in range(0, len(names), 200):
        roles.drop(0, names[start : start + 200])


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def test_a_newcomer_learns_signs_up_posts_and_continues_elsewhere(
    page, new_context, published, csp_violations
):
    # 1. Home page, then the track.
    page.goto("/")
    expect(page.get_by_role("heading", name="Learn PostgreSQL by running it.")).to_be_visible()
    shot(page, "01-home")
    page.locator(".track-card").get_by_role("link", name="See all steps").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("PostgreSQL")
    shot(page, "02-track")

    # 2. Lesson 1, and its first quiz question answered right.
    first = Lesson.objects.get(track__slug="postgresql", step=1)
    page.get_by_role("link", name=first.title).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(first.title)
    question = QuizQuestion.objects.filter(lesson=first).order_by("position", "pk").first()
    correct = [choice.key for choice in question.choices.all() if choice.is_correct]
    block = page.locator(f"#quiz-{question.key}")
    for key in correct:
        block.locator(f"input[value='{key}']").check()
    block.get_by_role("button", name="Check answer").click()
    expect(block).to_contain_text("✓ Right.")
    shot(page, "03-quiz-answered")
    page.get_by_role("button", name="Mark lesson as done").click()
    expect(page.locator("#lesson-done")).to_contain_text("✓ Lesson done.")

    # 3. A sandbox lesson: run an example, then explain it.
    sandbox_lesson = Lesson.objects.get(track__slug="postgresql", step=3)
    page.goto(sandbox_lesson.get_absolute_url())
    page.locator(".lesson-body").get_by_role("button", name="Run in sandbox").first.click()
    output = page.locator("#sandbox-output")
    expect(output.locator("table")).to_be_visible(timeout=20_000)
    shot(page, "04-sandbox-run")
    page.locator("#sandbox").get_by_role("button", name="Explain").click()
    expect(output).to_contain_text("Execution Time", timeout=20_000)
    shot(page, "05-sandbox-explain")

    # 4. A graded exercise, answered with a query of one's own (the reference solution's text
    # stands in for what the learner types: the grader compares results, not text).
    exercise = Exercise.objects.filter(lesson=sandbox_lesson).order_by("position", "pk").first()
    block = page.locator(f"#exercise-{exercise.key}")
    block.locator("textarea").fill(exercise.solution_sql)
    block.get_by_role("button", name="Check").click()
    expect(block.locator(".exercise-passed")).to_contain_text("Correct.", timeout=20_000)
    shot(page, "06-exercise-passed")

    # 5. Sign up: the progress made signed out is kept.
    page.get_by_role("banner").get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill("newcomer")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("We saved your progress from this device")).to_be_visible()
    page.goto("/progress/")
    expect(page.locator("tr", has_text=first.title)).to_contain_text("Done")
    shot(page, "07-progress-after-sign-up")

    # 6. A question in the sandbox lesson's discussion.
    page.goto(sandbox_lesson.get_absolute_url() + "#discussion")
    page.get_by_label("Title").fill("Why does OFFSET get slow on later pages?")
    page.get_by_label("Your post").fill("Page 500 takes much longer than page 1. Why?")
    page.get_by_role("button", name="Post thread").click()
    thread = page.locator(".thread").first
    expect(thread.get_by_role("heading")).to_have_text("Why does OFFSET get slow on later pages?")
    shot(page, "08-discussion-posted")

    # 7. Log out; log in on another browser and continue where they left off.
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("banner").get_by_role("link", name="Log in")).to_be_visible()
    other = new_context(viewport={"width": 1280, "height": 900})
    laptop = other.new_page()
    laptop.goto("/accounts/login/")
    laptop.get_by_label("Username").fill("newcomer")
    laptop.get_by_label("Password").fill(PASSWORD)
    laptop.get_by_role("button", name="Log in").click()
    expect(laptop.locator(".account-name")).to_have_text("newcomer")
    laptop.goto("/")
    resume = laptop.locator(".continue-card")
    expect(resume).to_be_visible()
    shot(laptop, "09-continue-on-another-browser")
    resume.click()
    expect(laptop.get_by_role("heading", level=1)).to_be_visible()
    assert "/learn/postgresql/" in laptop.url
    shot(laptop, "10-continued")
    other.close()
    # All of it works under the Content-Security-Policy: the browser refused nothing.
    assert csp_violations == []
