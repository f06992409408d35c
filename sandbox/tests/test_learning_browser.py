"""Learning that sticks, in a real Chromium: hints unlock with failed checks and the solution
is offered after three; a missed quiz question is on /review/ the next day; a finished track's
certificate opens at its public URL in a fresh browser."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from lessons.models import ReviewItem
from lessons.sync import sync_content

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIXTURES = Path(__file__).parent / "fixtures"

TRACK = """title: Sticks
summary: A two-lesson track for the learning browser test.
order: 1
"""

LESSON_1 = """---
title: Big spenders
step: 1
level: beginner
mode: sql_sandbox
fixture: grading.sql
reviewed: 2026-11-20
version: 1
summary: Customers with a large order.
---

Join customers to their orders.

```quiz
questions:
  - id: pick-one
    question: Which keyword reads rows?
    choices:
      - id: select
        text: "`SELECT`"
        correct: true
      - id: vacuum
        text: "`VACUUM`"
    explanation: |
      SELECT is the query that returns rows.
```

```exercise
id: big-spenders
title: Big spenders
prompt: |
  The names of the customers with an order over 6.
solution: |
  SELECT DISTINCT c.name FROM customers c JOIN orders o ON o.customer_id = c.id
  WHERE o.amount > 6;
hints:
  - Join `orders` to `customers`.
  - Keep the orders with `amount > 6`.
  - "One name per customer: `DISTINCT`."
variants:
  - id: second-order
    setup: INSERT INTO orders VALUES (4, 1, 20, now());
```
"""

LESSON_2 = """---
title: Wrap-up
step: 2
level: beginner
mode: reading
reviewed: 2026-11-20
version: 1
summary: The end of the track.
---

That is all.
"""


@pytest.fixture
def sticks(tmp_path, settings):
    folder = tmp_path / "content"
    (folder / "sticks").mkdir(parents=True)
    (folder / "fixtures").mkdir()
    shutil.copy(FIXTURES / "grading.sql", folder / "fixtures" / "grading.sql")
    (folder / "sticks" / "track.yml").write_text(TRACK)
    (folder / "sticks" / "01-big-spenders.md").write_text(LESSON_1)
    (folder / "sticks" / "02-wrap-up.md").write_text(LESSON_2)
    report = sync_content(folder)
    assert report.errors == []
    return folder


def check(block, sql: str) -> None:
    block.locator("textarea").fill(sql)
    block.get_by_role("button", name="Check").click()


def test_hints_then_the_solution_then_review_then_a_certificate(page, new_context, sticks):
    page.goto("/learn/sticks/big-spenders/")
    block = page.locator("#exercise-big-spenders")
    hints = block.locator("details.hint")
    expect(block.get_by_role("button", name="Give up and show the solution")).to_be_visible()
    expect(hints).to_have_count(0)  # no hint before the first check
    for failures in (1, 2, 3):
        check(block, f"SELECT name FROM customers WHERE id = {failures}")
        expect(block.locator(".exercise-verdict")).to_contain_text("Not yet.")
        expect(hints).to_have_count(failures)
        if failures < 3:
            expect(block.locator(".exercise-help-status")).to_contain_text(
                f"after {3 - failures} more failed check"
            )
    expect(hints.nth(2)).to_contain_text("One name per customer")
    block.get_by_role("button", name="Show the solution", exact=True).click()
    expect(block.locator(".exercise-solution")).to_contain_text("SELECT DISTINCT c.name")
    check(
        block,
        "SELECT DISTINCT c.name FROM customers c JOIN orders o ON o.customer_id = c.id "
        "WHERE o.amount > 6",
    )
    expect(block.locator(".exercise-verdict")).to_contain_text("Correct.")
    expect(block.locator(".exercise-with-solution")).to_have_text(
        "You passed this exercise with the solution."
    )

    question = page.locator("#quiz-pick-one")
    question.locator("label.choice", has_text="VACUUM").click()
    question.get_by_role("button", name="Check answer").click()
    expect(question).to_contain_text("✗ Not quite.")

    page.goto("/review/")
    expect(page.locator("h1")).to_have_text("Nothing due today")
    # The next day: move every review item's schedule one day back.
    for item in ReviewItem.objects.all():
        day = datetime.timedelta(days=1)
        ReviewItem.objects.filter(pk=item.pk).update(
            due=item.due - day, last_review=item.last_review - day
        )
    page.reload()
    quiz = page.locator(".review-item[data-review-kind='quiz']")
    expect(quiz).to_contain_text("Which keyword reads rows?")
    exercise = page.locator(".review-item[data-review-kind='exercise']")
    expect(exercise).to_contain_text("graded on fresh hidden data sets too")
    quiz.get_by_role("button", name="Good").click()
    expect(quiz.locator(".review-graded")).to_contain_text("It comes back on")

    page.goto("/learn/sticks/wrap-up/")
    page.get_by_role("button", name="Mark lesson as done").click()
    expect(page.locator("#lesson-done")).to_contain_text("✓ Lesson done.")
    page.goto("/learn/sticks/")
    page.get_by_role("button", name="Get your certificate of completion").click()
    page.get_by_label("Username").fill("margo")
    page.get_by_label("Password", exact=True).fill("a-long-passphrase-1")
    page.get_by_label("Password confirmation").fill("a-long-passphrase-1")
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("button", name="Get your certificate of completion").click()
    expect(page.locator(".certificate-name")).to_have_text("margo")
    url = page.url
    assert "/certificates/" in url

    stranger = new_context().new_page()
    stranger.goto(url)
    certificate = stranger.locator(".certificate")
    expect(certificate).to_contain_text("Sticks")
    expect(certificate).to_contain_text(
        "1 graded exercise passed (1 of them after reading the solution)"
    )
    expect(stranger.get_by_role("button", name="Revoke this certificate")).to_have_count(0)
