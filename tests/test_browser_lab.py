"""The Django ORM lab in a real Chromium: lesson 31 as a learner meets it (an N+1 loop, its fix,
an exercise graded on query count), and the lab's output shown as text whatever it contains."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from lessons.models import Lesson, Track
from lessons.sync import sync_content
from sandbox import connections, roles
from tests.accessibility import serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONTENT = Path(settings.BASE_DIR) / "content"
LESSON_URL = "/learn/postgresql/django-orm-n-plus-one/"
FIXED_LOOP = """for book in Book.objects.select_related("author").order_by("id")[:20]:
    print(book.title, "by", book.author.name)"""


@pytest.fixture(scope="session")
def lab_worker():
    """One real lab worker for the session, started as the site starts it."""
    from sandbox.lab import launch

    folder = Path(tempfile.mkdtemp(prefix="querylab-lab-browser-"))
    with (folder / "worker.log").open("w") as log:
        process = launch.start_worker(folder / "worker.sock", CONTENT / "models", stderr=log)
        yield folder / "worker.sock"
        launch.stop_worker(process)


@pytest.fixture
def published(settings, lab_worker):
    settings.LAB_WORKER_SOCKET = str(lab_worker)
    # content/ passes `content check` (CI); re-running its sandbox checks would add ~18 s.
    report = sync_content(settings.CONTENT_DIR, run_checks=False)
    assert [str(error) for error in report.errors] == []
    yield
    # The lab's sandboxes live on the sandbox server, outside the test transaction.
    connections.close_idle_connections()
    names = sorted(roles.existing_names(0))
    for start in range(0, len(names), 200):
        roles.drop(0, names[start : start + 200])


def replace_code(page, code: str) -> None:
    page.fill("#lab-code", code)


def test_a_learner_finds_an_n_plus_one_fixes_it_and_passes_an_exercise(page, published):
    page.goto(LESSON_URL)
    expect(page.locator(".badge-mode-django_lab")).to_have_text("Django ORM lab")
    lab = page.locator("#lab")
    expect(lab.get_by_role("heading", name="Django ORM lab")).to_be_visible()

    # The N+1 example, run from the lesson text.
    page.locator("#example-n-plus-one").get_by_role("button", name="Run in lab").click()
    count = lab.locator(".lab-count")
    expect(count).to_contain_text("21 queries", timeout=20_000)
    expect(page.locator("#lab-code")).to_have_value(
        'for book in Book.objects.order_by("id")[:20]:\n'
        '    print(book.title, "by", book.author.name)'
    )
    hint = lab.locator(".lab-repeated")
    expect(hint).to_contain_text("20 times")
    expect(hint).to_contain_text('select_related("author")')
    expect(lab.locator(".lab-group .lab-repeat-badge")).to_have_text("×20 same shape")
    expect(lab.locator(".lab-printed")).to_contain_text(" by ")
    expect(lab.locator(".lab-version")).to_contain_text("Django 5.2.")

    # The fix: one query with a join, and no repeated shape.
    replace_code(page, FIXED_LOOP)
    page.focus("#lab-code")
    page.keyboard.press("Control+Enter")
    expect(count).to_contain_text("1 query")
    expect(lab.locator(".lab-repeated")).to_have_count(0)
    expect(lab.locator(".lab-sql")).to_contain_text('INNER JOIN "lab_author"')

    # Reset, as in the SQL sandbox (after a confirmation).
    page.once("dialog", lambda dialog: dialog.accept())
    lab.get_by_role("button", name="Reset").click()
    expect(lab.locator(".sandbox-reset")).to_contain_text("reset to the lesson's starting data")
    page.focus("#lab-code")
    page.keyboard.press("Control+Enter")
    expect(count).to_contain_text("1 query")

    # Its plan, through the SQL sandbox's plan view.
    lab.locator(".lab-query").first.get_by_role("button", name="Explain").click()
    expect(lab.locator(".lab-plan .plan-view")).to_be_visible(timeout=15_000)

    # An exercise graded on query count: the N+1 answer fails, the join passes.
    exercise = page.locator("#exercise-orm-books-2020-authors")
    answer = exercise.locator("textarea[name='code']")
    answer.fill(
        "[(b.title, b.author.name) for b in "
        'Book.objects.filter(published_year=2020).order_by("id")]'
    )
    exercise.get_by_role("button", name="Check").click()
    verdict = exercise.locator(".exercise-verdict")
    expect(verdict).to_contain_text("Not yet", timeout=30_000)
    expect(verdict.locator(".lab-count")).to_contain_text("7 queries")
    answer.fill(
        "[(b.title, b.author.name) for b in Book.objects.filter(published_year=2020)"
        '.select_related("author").order_by("id")]'
    )
    exercise.get_by_role("button", name="Check").click()
    expect(verdict).to_contain_text("Correct.", timeout=30_000)
    expect(verdict.locator(".lab-count")).to_contain_text("1 query")


# -- the page's side alone, with the API answered by the test ------------------------------------

HOSTILE = '<img src=x class="injected">'


@pytest.fixture
def lab_lesson(db):
    track = Track.objects.create(slug="orm", title="ORM")
    return Lesson.objects.create(
        track=track, slug="lab", step=1, title="Lab", mode="django_lab", fixture="library.sql"
    )


def answered(page, body: dict, status: int = 200) -> None:
    page.route(
        "**/api/lab/run",
        lambda route: route.fulfill(
            status=status, content_type="application/json", body=json.dumps(body)
        ),
    )


def query(sql: str, params: list, fingerprint: str) -> dict:
    return {"sql": sql, "params": params, "ms": 0.4, "rows": 1, "fingerprint": fingerprint}


def test_it_shows_what_the_code_printed_and_sent_as_text(page, lab_lesson):
    loop = [query(f'SELECT "x" FROM t WHERE id = {n} -- {HOSTILE}', [n], "aa") for n in range(3)]
    answered(
        page,
        {
            "ok": False,
            "output": f"printed {HOSTILE}\n",
            "result": {"columns": [HOSTILE], "rows": [[HOSTILE], [None]], "truncated": False},
            "queries": [query(f"SELECT {HOSTILE}", [HOSTILE], "bb"), *loop],
            "repeated": [{"fingerprint": "aa", "count": 3, "hint": f"an N+1 `{HOSTILE}`"}],
            "error": {"type": "ValueError", "message": HOSTILE, "line": 2},
        },
    )
    page.goto("/learn/orm/lab/")
    page.fill("#lab-code", "first line\nsecond line")
    page.get_by_role("button", name="Run", exact=True).click()
    lab = page.locator("#lab")
    expect(lab.locator(".lab-count")).to_contain_text("4 queries")
    expect(lab.locator(".lab-printed")).to_have_text(f"printed {HOSTILE}\n")
    expect(lab.locator(".sandbox-error")).to_contain_text(f"ValueError on line 2: {HOSTILE}")
    expect(lab.locator(".lab-repeated code")).to_have_text(HOSTILE)
    expect(lab.locator(".lab-group .lab-repeat-badge")).to_have_text("×3 same shape")
    expect(lab.locator(".sandbox-table th").first).to_have_text(HOSTILE)
    expect(lab.locator(".sandbox-null")).to_have_text("NULL")
    assert page.locator("img.injected").count() == 0
    # The failing line is selected and marked in the editor (CodeMirror, static/editor/).
    expect(lab.locator(".cm-error-mark")).to_have_text("second line")
    selected = page.evaluate(
        "() => { const view = document.querySelector('#lab-code').codeEditor.view;"
        " const range = view.state.selection.main;"
        " return view.state.sliceDoc(range.from, range.to); }"
    )
    assert selected == "second line"


def test_it_shows_a_limit_and_keeps_the_code(page, lab_lesson):
    answered(page, {"ok": False, "error": "Too many runs; try again in 5 s."}, status=429)
    page.goto("/learn/orm/lab/")
    page.fill("#lab-code", "Book.objects.count()")
    page.focus("#lab-code")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#lab .sandbox-error")).to_have_text("Too many runs; try again in 5 s.")
    page.reload()
    expect(page.locator("#lab-code")).to_have_value("Book.objects.count()")


def test_it_indents_python_with_four_spaces(page, lab_lesson):
    page.goto("/learn/orm/lab/")
    page.fill("#lab-code", "for b in Book.objects.all():")
    page.focus("#lab-code")
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.input_value("#lab-code") == "for b in Book.objects.all():\n    "
    assert page.locator("#lab .sandbox-highlight .t-k").first.inner_text() == "for"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_lab_and_its_output_pass_axe(page, lab_lesson, scheme):
    loop = [
        query(f"SELECT name FROM lab_author WHERE id = {n} LIMIT 21", [n], "aa") for n in range(3)
    ]
    answered(
        page,
        {
            "ok": True,
            "output": "printed\n",
            "result": {
                "columns": ["id", "name"],
                "rows": [[1, "Ada"], [2, None]],
                "truncated": True,
            },
            "queries": [query("SELECT id FROM lab_book LIMIT 3", [], "bb"), *loop],
            "repeated": [{"fingerprint": "aa", "count": 3, "hint": "an N+1: `select_related`"}],
            "error": None,
        },
    )
    page.emulate_media(color_scheme=scheme)
    page.goto("/learn/orm/lab/")
    page.fill("#lab-code", "Book.objects.all()")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#lab .lab-count")).to_contain_text("4 queries")
    page.locator(".lab-group-details summary").click()
    assert serious_violations(page) == []
