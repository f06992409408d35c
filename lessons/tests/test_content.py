from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from lessons.content import check_tree, parse_lesson

README = Path(settings.BASE_DIR) / "content" / "README.md"


def example_lesson() -> str:
    """The complete example lesson of content/README.md, which uses every block."""
    blocks = [block.split("````")[0] for block in README.read_text().split("````markdown\n")[1:]]
    return next(block for block in blocks if "title: VACUUM and dead rows" in block)


def parse(text: str, path: str = "pg/01-vacuum.md"):
    urls = {"pg/02-mvcc.md": "/learn/pg/mvcc/"}
    return parse_lesson(text, path, lesson_urls=urls, fixtures={"vacuum_demo.sql"})


def test_it_parses_the_readme_example_with_every_block():
    lesson, errors = parse(example_lesson())
    assert errors == []
    assert lesson.title == "VACUUM and dead rows"
    assert (lesson.track, lesson.slug, lesson.step) == ("pg", "vacuum", 1)
    assert [q.key for q in lesson.questions] == ["what-vacuum-reclaims", "what-creates-dead-rows"]
    assert lesson.questions[1].allows_many
    assert [c.correct for c in lesson.questions[0].choices] == [True, False]
    assert [e.key for e in lesson.examples] == ["dead-tuples"]
    exercise = lesson.exercises[0]
    assert exercise.order_matters and len(exercise.hints_html) == 2
    assert exercise.variants == [
        {"id": "after-delete", "setup": "DELETE FROM orders WHERE id % 2 = 0;"}
    ]
    assert exercise.plan_checks == [{"check": "max_rows_read", "value": 1000}]
    assert [c.key for c in lesson.flashcards] == ["dead-tuple", "vacuum-full"]
    assert lesson.self_checks[0].key == "why-not-overwrite"
    assert lesson.interview[0].key == "autovacuum-tuning"
    assert lesson.discussion[0].startswith("When did autovacuum")
    assert lesson.sandbox_languages == ["plpgsql"]


def test_it_never_puts_answers_in_the_page_html():
    lesson, _ = parse(example_lesson())
    html = lesson.body_html
    assert 'class="block block-quiz"' in html and "Makes their space reusable" in html
    assert "Plain VACUUM frees space" not in html  # the explanation
    assert "That is <code>VACUUM FULL</code>, which rewrites" not in html  # per-choice feedback
    assert "Other transactions may still need" not in html  # the self-check answer
    assert "ORDER BY n_dead_tup DESC" not in html  # the exercise solution
    assert "correct" not in html.lower().replace("correct-horse", "")


def test_it_renders_blocks_in_their_own_sections():
    html = parse(example_lesson())[0].body_html
    for css_class in ("block-pitfall", "block-example", "block-exercise", "block-selfcheck"):
        assert f'class="block {css_class}"' in html
    assert 'class="block block-flashcards"' in html and 'class="block block-interview"' in html
    assert 'data-sql="UPDATE orders SET status = status;' in html
    assert "Run in sandbox" in html
    # Hints are not in the page: they are served as failed checks unlock them.
    assert (
        "Hint 1" not in html and 'class="exercise-help" hx-get="/api/sandbox/exercise-help' in html
    )


def test_it_tells_the_learner_what_an_exercise_check_compares():
    html = parse(example_lesson())[0].body_html
    assert "What Check compares:" in html and "<strong>in the same order</strong>" in html
    assert "column names are not compared" in html
    assert (
        "Its plan is checked as well:" in html
        and "read at most 1000 rows of the lesson's tables in all" in html
    )


def test_it_highlights_code_and_adds_copy_buttons():
    body = "\n".join(
        f"```{language}\n{code}\n```\n"
        for language, code in [
            ("sql", "SELECT 1;"),
            ("python", "import os"),
            ("shell", "echo hi"),
            ("ini", "[pgbouncer]"),
            ("toml", "[tool.ruff]"),
        ]
    )
    text = example_lesson().split("---\n\n", 1)[0] + "---\n\n" + body
    lesson, errors = parse(text)
    assert errors == []
    assert '<span class="k">SELECT</span>' in lesson.body_html
    assert '<span class="kn">import</span>' in lesson.body_html
    assert lesson.body_html.count("data-copy") == 5
    assert 'data-language="toml"' in lesson.body_html


def test_it_builds_anchors_and_a_table_of_contents():
    lesson, _ = parse(example_lesson())
    assert '<h2 id="seeing-dead-rows">Seeing dead rows</h2>' in lesson.body_html
    assert lesson.toc == [
        {"id": "seeing-dead-rows", "title": "Seeing dead rows", "level": 2},
        {"id": "cleaning-up", "title": "Cleaning up", "level": 2},
    ]


def test_it_points_links_between_lessons_at_their_pages():
    text = example_lesson().replace("## Cleaning up", "## Cleaning up\n\nSee [MVCC](02-mvcc.md).")
    lesson, _ = parse(text)
    assert '<a href="/learn/pg/mvcc/">MVCC</a>' in lesson.body_html


def test_it_computes_reading_time_from_the_text():
    head = example_lesson().split("---\n\n", 1)[0] + "---\n\n"
    short, _ = parse(head + "A few words.\n")
    long, _ = parse(head + ("word " * 1000) + "\n")
    assert short.reading_minutes == 1
    assert long.reading_minutes == 5  # 1,000 words at 200 a minute


def test_it_reports_yaml_errors_with_their_line():
    text = example_lesson().replace("    question: What does plain", "    question: oops: What")
    _, errors = parse(text)
    assert len(errors) == 1
    assert str(errors[0]).startswith("pg/01-vacuum.md:")
    line = int(str(errors[0]).split(":")[1])
    assert "oops: What" in text.splitlines()[line - 1]


def test_it_refuses_a_hint_that_yaml_read_as_a_mapping():
    # Unquoted, "Sort on `n_dead_tup`: descending" is a one-key mapping, not a text.
    text = example_lesson().replace(
        "  - Sort on `n_dead_tup`.", "  - Sort on `n_dead_tup`: descending."
    )
    _, errors = parse(text)
    assert len(errors) == 1
    assert "`hints` must be a list of non-empty texts" in str(errors[0])


def test_it_does_not_render_raw_html():
    head = example_lesson().split("---\n\n", 1)[0] + "---\n\n"
    lesson, errors = parse(head + "<script>alert(1)</script>\n")
    assert lesson is None  # an error, never published
    assert errors[0].message.startswith("raw HTML (<script>) is not allowed")
    from lessons.content.markdown import MARKDOWN

    assert "<script>" not in MARKDOWN.render("<script>alert(1)</script>\n")


def test_it_aligns_table_columns_with_classes_not_inline_styles():
    # The Content-Security-Policy (style-src 'self') would drop a style attribute.
    head = example_lesson().split("---\n\n", 1)[0] + "---\n\n"
    lesson, _ = parse(head + "| name | rows |\n| :-- | --: |\n| t | 10 |\n")
    assert '<th class="align-left">name</th>' in lesson.body_html
    assert '<td class="align-right">10</td>' in lesson.body_html
    assert "style=" not in lesson.body_html


def test_it_accepts_the_published_content():
    result = check_tree(settings.BASE_DIR / "content")
    assert result.errors == []
    steps = sorted(lesson.step for lesson in result.lessons if lesson.track == "postgresql")
    assert steps == list(range(1, 37))


def test_it_checks_the_body_even_when_the_front_matter_is_wrong():
    text = example_lesson().replace("level: intermediate", "level: expert")
    text = text.replace("```flashcards", "```flashcard")
    _, errors = parse(text)
    messages = [error.message for error in errors]
    assert messages[0] == "`level` must be one of beginner, intermediate, advanced"
    assert messages[1].startswith("unknown block type 'flashcard'")


def _tree_with(tmp_path, name: str, data: bytes):
    track = tmp_path / "pg"
    track.mkdir()
    (track / "track.yml").write_text("title: PG\nsummary: s\norder: 1\n")
    (track / name).write_bytes(data)
    return check_tree(tmp_path)


LATIN_1 = "---\ntitle: Café\nstep: 1\nlevel: beginner\nmode: reading\n".encode("latin-1")
FRONT = "reviewed: 2026-11-06\nversion: 1\nsummary: s\n---\n\nBody.\n"


def test_it_names_the_line_of_a_file_not_saved_as_utf8(tmp_path):
    result = _tree_with(tmp_path, "01-cafe.md", LATIN_1 + FRONT.encode())
    (error,) = result.errors
    assert (error.line, error.path.endswith("pg/01-cafe.md")) == (2, True)
    assert "not UTF-8 (byte 0xe9)" in error.message and "save it with UTF-8" in error.message
    assert result.lessons == []


def test_it_names_the_line_of_a_date_that_does_not_exist(tmp_path):
    text = "---\ntitle: T\nstep: 1\nlevel: beginner\nmode: reading\n" + FRONT.replace(
        "2026-11-06", "2026-13-06"
    )
    result = _tree_with(tmp_path, "01-dates.md", text.encode())
    (error,) = result.errors
    assert error.line == 6
    assert error.message == "invalid YAML: '2026-13-06' is not a real date (month must be in 1..12)"


def test_it_refuses_a_second_track_with_the_same_order(tmp_path):
    for name in ("alpha", "beta"):
        track = tmp_path / name
        track.mkdir()
        (track / "track.yml").write_text(f"title: {name}\nsummary: s\norder: 3\n")
        lesson = "---\ntitle: T\nstep: 1\nlevel: beginner\nmode: reading\n" + FRONT
        (track / "01-first.md").write_text(lesson)
    result = check_tree(tmp_path)
    (error,) = result.errors
    assert error.path.endswith("beta/track.yml") and error.line == 3
    assert error.message == "`order: 3` is already alpha's; give each track an order of its own"
    assert set(result.tracks) == {"alpha"} and result.invalid_tracks == {"beta"}


@pytest.mark.parametrize(
    "choice", ["- text: `NULL` is unknown", "- text: SELECT: the first clause"]
)
def test_it_advises_quotes_for_a_backtick_or_a_colon_in_a_text(choice):
    text = example_lesson().replace("- text: Makes their space reusable inside the table", choice)
    _, errors = parse(text)
    assert any(
        "invalid YAML" in error.message and "must be in double quotes" in error.message
        for error in errors
    ), errors


def test_it_reports_a_block_never_closed_where_it_opens():
    text = example_lesson().rstrip()
    assert text.endswith("```")
    opened = text.rstrip("`").rstrip() + "\n"  # the last block (flashcards) loses its closing
    line = opened[: opened.rindex("```flashcards")].count("\n") + 1
    _, errors = parse(opened)
    assert [(e.line, e.message) for e in errors] == [
        (line, "the ``` block opened here is never closed: add a line with ``` where it ends")
    ]


def test_it_reports_a_block_left_open_before_the_next_one():
    text = example_lesson()
    pitfall_end = text.index("```", text.index("```pitfall") + 3)
    unclosed = text[:pitfall_end] + text[pitfall_end + 4 :]  # drop the pitfall's closing line
    opening = unclosed[: unclosed.index("```pitfall")].count("\n") + 1
    _, errors = parse(unclosed)
    assert errors and errors[0].line == opening
    assert "is not closed before line" in errors[0].message


@pytest.mark.parametrize("html", ["<b>bold</b>", "<br>", '<div class="note">x</div>'])
def test_it_refuses_raw_html_in_the_body(html):
    text = example_lesson().replace("## Cleaning up", f"## Cleaning up\n\nSee {html} here.")
    _, errors = parse(text)
    assert any(e.message.startswith("raw HTML (<") for e in errors), errors


def test_it_leaves_angle_brackets_that_are_no_html_alone():
    text = example_lesson().replace("## Cleaning up", "## Cleaning up\n\nA List<T> and a < b > c.")
    _, errors = parse(text)
    assert errors == []


def _two_lessons(tmp_path, link: str):
    track = tmp_path / "pg"
    track.mkdir()
    (track / "track.yml").write_text("title: PG\nsummary: s\norder: 1\n")
    head = "---\ntitle: T\nstep: {step}\nlevel: beginner\nmode: reading\n" + FRONT.split("\n\n")[0]
    (track / "01-first.md").write_text(
        head.format(step=1) + "\n\n## Reading a plan\n\nText.\n\n" + link + "\n"
    )
    (track / "02-second.md").write_text(head.format(step=2) + "\n\n## Seeing dead rows\n\nText.\n")
    return check_tree(tmp_path)


@pytest.mark.parametrize(
    "link", ["[up](#reading-a-plan)", "[there](02-second.md#seeing-dead-rows)"]
)
def test_it_takes_links_to_headings_that_exist(tmp_path, link):
    result = _two_lessons(tmp_path, link)
    assert result.errors == [] and len(result.lessons) == 2


@pytest.mark.parametrize(
    ("link", "where"),
    [("[up](#reading-plans)", "this lesson"), ("[x](02-second.md#dead-rows)", "pg/02-second.md")],
)
def test_it_refuses_a_link_to_a_heading_that_does_not_exist(tmp_path, link, where):
    result = _two_lessons(tmp_path, link)
    (error,) = result.errors
    anchor = link.split("#")[1].rstrip(")")
    assert error.message.startswith(f"broken link to #{anchor}: {where} has no heading")
    assert error.line == 15
    assert [lesson.path for lesson in result.lessons] == ["pg/02-second.md"]


def test_it_reports_a_list_item_that_yaml_merged_into_the_one_above():
    text = example_lesson().replace(
        "  - Have you ever needed VACUUM FULL?", "   - Have you ever needed VACUUM FULL?"
    )
    assert "   - Have you ever" in text
    _, errors = parse(text)
    line = text[: text.index("   - Have you ever")].count("\n") + 1
    assert [(e.line, e.message.split(":")[0]) for e in errors] == [
        (line, "this line looks like a list item, but YAML read it as part of the item above")
    ]
