"""The workbench in a real Chromium: the CodeMirror editor (completion of the learner's own
tables, error marks, the keyboard) and the sandbox docked beside the lesson on wide screens."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.accessibility import serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

URL = "/learn/sql/indexes/"
WIDE = {"width": 1400, "height": 900}
PARAGRAPHS = "".join(
    f"<p>Paragraph {n} about indexes and the rows they find.</p>" for n in range(30)
)
EXAMPLE = """
<figure class="block block-example" id="example-count-items" data-example="count-items"
        data-sql="SELECT count(*) AS n FROM items">
  <figcaption class="block-head"><span class="block-badge">Try it</span>
    <h3 class="block-title">Count the items</h3></figcaption>
  <div class="code-block" data-language="sql">
    <div class="code-head"><span class="code-lang">sql</span><span class="code-actions">
      <button type="button" class="button button-small run-sql" data-run-sql="count-items" hidden
              disabled>Run in sandbox</button></span></div>
    <pre class="highlight"><code>SELECT count(*) AS n FROM items</code></pre>
  </div>
</figure>
"""


@pytest.fixture
def lesson(shop_lesson):
    """The shop lesson with a long text and one example in the middle of it."""
    shop_lesson.body_html = PARAGRAPHS + EXAMPLE + PARAGRAPHS
    shop_lesson.save()
    return shop_lesson


def wide_page(new_context, **options):
    context = new_context(viewport=WIDE, **options)
    context.set_default_timeout(10_000)
    return context.new_page()


def editor(page):
    return page.locator("#sandbox .cm-content")


def test_completion_offers_a_table_the_learner_just_created(new_context, lesson):
    page = wide_page(new_context)
    page.goto(URL)
    editor(page).click()
    page.keyboard.type("CREATE TABLE reading_list (title text, pages int)")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#sandbox-output")).to_contain_text("done")
    page.keyboard.press("Control+a")
    page.keyboard.type("SELECT * FROM readi")
    options = page.locator(".cm-tooltip-autocomplete li")
    expect(options.filter(has_text="reading_list")).to_have_count(1)
    page.wait_for_timeout(150)  # CodeMirror ignores keys for a moment after the list opens
    page.keyboard.press("Enter")  # takes the offered name
    page.keyboard.type(" WHERE reading_list.pa")
    expect(options.filter(has_text="pages")).to_have_count(1)
    assert page.input_value("#sandbox-sql") == "SELECT * FROM reading_list WHERE reading_list.pa"


def test_the_error_position_is_marked_in_the_text(new_context, lesson):
    page = wide_page(new_context)
    page.goto(URL)
    editor(page).click()
    page.keyboard.type("SELECT 1;\nSELECT nme FROM items")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#sandbox-output .sandbox-error")).to_contain_text("nme")
    expect(page.locator("#sandbox .cm-error-mark")).to_have_text("nme")
    # Typing clears the mark: it belonged to the text that ran.
    page.keyboard.type("x")
    expect(page.locator("#sandbox .cm-error-mark")).to_have_count(0)


def test_the_docked_panel_shows_the_result_beside_the_example_that_ran(new_context, lesson):
    page = wide_page(new_context)
    page.goto(URL)
    example = page.locator("#example-count-items")
    example.scroll_into_view_if_needed()
    example.get_by_role("button", name="Run in sandbox").click()
    result = page.locator("#sandbox-output .sandbox-table")
    expect(result.locator("tbody")).to_have_text("2000")
    example_box, result_box = example.bounding_box(), result.bounding_box()
    # The result is to the right of the example, and both are in the viewport at once.
    assert result_box["x"] >= example_box["x"] + example_box["width"]
    for box in (example_box, result_box):
        assert box["y"] < WIDE["height"] and box["y"] + box["height"] > 0, box
    assert page.input_value("#sandbox-sql") == "SELECT count(*) AS n FROM items"


@pytest.mark.parametrize("width", [1100, 1280, 1400, 1920])
def test_the_docked_panel_hides_none_of_the_lesson(new_context, lesson, width):
    # The lesson's column ends where the panel begins, on a laptop's screen as on a wide one.
    context = new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.goto(URL)
    panel = page.locator("#sandbox")
    expect(panel).to_have_class(re.compile(r"\bis-docked\b"))
    lesson_box, panel_box = page.locator(".lesson").bounding_box(), panel.bounding_box()
    assert lesson_box["x"] + lesson_box["width"] <= panel_box["x"], (lesson_box, panel_box)
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_the_layout_choice_is_remembered_and_narrow_screens_keep_it_below(new_context, lesson):
    page = wide_page(new_context)
    page.goto(URL)
    sandbox = page.locator("#sandbox")
    expect(sandbox).to_have_css("position", "fixed")
    page.get_by_role("button", name="Show below the lesson").click()
    expect(sandbox).to_have_css("position", "static")
    page.reload()
    expect(sandbox).to_have_css("position", "static")
    text_bottom = page.locator(".lesson-body").bounding_box()
    assert sandbox.bounding_box()["y"] > text_bottom["y"] + text_bottom["height"]
    page.get_by_role("button", name="Dock beside the lesson").click()
    expect(sandbox).to_have_css("position", "fixed")
    page.set_viewport_size({"width": 800, "height": 900})
    expect(sandbox).to_have_css("position", "static")
    expect(page.locator(".workbench-toggle")).to_be_hidden()


def focused(page) -> str:
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return e.className + ' ' + (e.textContent || '').slice(0, 40); }"
    )


def test_keyboard_only_into_the_editor_run_and_out_and_the_panel(new_context, lesson):
    page = wide_page(new_context)
    page.goto(URL)
    for _ in range(120):  # Tab from the top of the page until the editor has the focus
        page.keyboard.press("Tab")
        if "cm-content" in focused(page):
            break
    assert "cm-content" in focused(page)
    page.keyboard.type("SELECT count(*) AS n")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # Tab indents: it does not leave the editor
    page.keyboard.type("FROM items")
    assert page.input_value("#sandbox-sql") == "SELECT count(*) AS n\n  FROM items"
    page.keyboard.press("Control+Enter")
    expect(page.locator("#sandbox-output .sandbox-table tbody")).to_have_text("2000")
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")  # Escape then Tab moves on: to the Run button
    assert focused(page).startswith("button") and focused(page).endswith("Run")
    # The panel: Shift+Tab back to its width handle and toggle.
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert "workbench-handle" in focused(page)
    handle = page.get_by_role("separator")
    before = int(handle.get_attribute("aria-valuenow"))
    page.keyboard.press("ArrowLeft")
    assert int(handle.get_attribute("aria-valuenow")) == before + 40
    width = page.locator("#sandbox").bounding_box()["width"]
    assert abs(width - (before + 40)) <= 1
    page.keyboard.press("Shift+Tab")
    assert "workbench-toggle" in focused(page)
    page.keyboard.press("Enter")
    expect(page.locator("#sandbox")).to_have_css("position", "static")
    expect(page.get_by_role("button", name="Dock beside the lesson")).to_be_focused()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_passes_on_the_editor_and_the_panel(new_context, lesson, scheme):
    page = wide_page(new_context, color_scheme=scheme)
    page.goto(URL)
    editor(page).click()
    page.keyboard.type("SELECT name FROM it")
    expect(page.locator(".cm-tooltip-autocomplete")).to_be_visible()
    assert serious_violations(page, "#sandbox") == []
    page.keyboard.press("Escape")
    page.keyboard.press("Control+a")
    page.keyboard.type("SELECT nme FROM items")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#sandbox .cm-error-mark")).to_have_count(1)
    assert serious_violations(page, "#sandbox") == []


def test_pages_without_an_editor_load_none_of_it(new_context, lesson, reading_lesson):
    page = wide_page(new_context)
    loaded = []
    page.on("request", lambda request: loaded.append(request.url))
    page.goto(reading_lesson.get_absolute_url())
    page.goto("/")
    assert not [url for url in loaded if "/static/editor/" in url]
    page.goto(URL)
    assert any(url.endswith("/static/editor/sql.js") for url in loaded)
    assert any(url.endswith("/static/editor/editor.css") for url in loaded)


def test_without_javascript_the_textarea_still_runs(new_context, lesson):
    page = wide_page(new_context, java_script_enabled=False)
    page.goto(URL)
    expect(page.locator("#sandbox-sql")).to_be_visible()
    expect(page.locator("#sandbox .cm-editor")).to_have_count(0)
