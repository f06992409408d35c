from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lessons.models import Flashcard, Lesson, QuizChoice, QuizQuestion, Track
from lessons.sync import sync_content
from lessons.tests.conftest import SAMPLE_CONTENT

pytestmark = pytest.mark.django_db


@pytest.fixture
def content(tmp_path) -> Path:
    """A private copy of content/ to edit."""
    shutil.copytree(SAMPLE_CONTENT, tmp_path / "content")
    return tmp_path / "content"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_it_publishes_the_starter_content(content):
    report = sync_content(content)
    assert report.errors == []
    assert len(report.published) == 3
    track = Track.objects.get(slug="postgresql")
    assert track.title == "PostgreSQL"
    lesson = Lesson.objects.by_ref("postgresql/connections-and-pooling")
    assert lesson.step == 3 and lesson.mode == "reading" and lesson.level == "intermediate"
    assert "<h2 id=" in lesson.body_html
    assert lesson.toc[0]["title"] == "What a pool does"
    assert lesson.reading_minutes >= 3
    assert QuizQuestion.objects.filter(lesson=lesson, key="why-pool").exists()


def test_it_skips_files_that_did_not_change(content):
    sync_content(content)
    report = sync_content(content)
    assert report.published == []
    assert report.unchanged == 3


def test_it_keeps_the_last_good_version_of_an_invalid_file(content):
    sync_content(content)
    path = content / "postgresql" / "01-first-queries.md"
    edit(path, "title: Your first queries", "title: Your first queries\ntitel: typo")
    report = sync_content(content)
    assert [str(e).split(":", 1)[1] for e in report.errors] == [
        "3: unknown front-matter key 'titel'"
    ]
    lesson = Lesson.objects.by_ref("postgresql/first-queries")
    assert lesson.title == "Your first queries"


def test_it_unpublishes_lessons_whose_file_is_gone(content):
    sync_content(content)
    (content / "postgresql" / "03-connections-and-pooling.md").unlink()
    edit(
        content / "postgresql" / "02-indexes-and-plans.md",
        "[connects to PostgreSQL](03-connections-and-pooling.md)",
        "connects to PostgreSQL",
    )
    report = sync_content(content)
    assert report.unpublished == ["postgresql/connections-and-pooling"]
    assert not Lesson.objects.published().filter(slug="connections-and-pooling").exists()
    assert Lesson.objects.filter(slug="connections-and-pooling").exists()  # learner data kept


def test_it_keeps_rows_learner_data_points_at_when_a_lesson_is_renumbered(content):
    sync_content(content)
    lesson = Lesson.objects.get(slug="first-queries")
    question = QuizQuestion.objects.get(lesson=lesson, key="null-equals-null")
    choice = QuizChoice.objects.get(question=question, key="c")
    old = content / "postgresql" / "01-first-queries.md"
    new = content / "postgresql" / "05-first-queries.md"
    old.rename(new)
    edit(new, "step: 1", "step: 5")
    edit(new, "What does `SELECT NULL = NULL;` return?", "What is `NULL = NULL`?")
    report = sync_content(content)
    assert report.errors == []
    assert Lesson.objects.get(slug="first-queries").pk == lesson.pk
    question.refresh_from_db()
    assert question.prompt_html == "<p>What is <code>NULL = NULL</code>?</p>\n"
    assert QuizChoice.objects.get(pk=choice.pk).is_correct
    assert Lesson.objects.get(pk=lesson.pk).step == 5


def test_it_deactivates_parts_that_left_the_source(content):
    sync_content(content)
    path = content / "postgresql" / "01-first-queries.md"
    text = path.read_text()
    start = text.index("  - id: having")
    path.write_text(
        text[:start]
        + "```\n"
        + text.split("back: Filters groups after `GROUP BY`, so it can use aggregates.\n```\n")[1]
    )
    sync_content(content)
    card = Flashcard.objects.get(key="having")
    assert not card.is_active
    assert Flashcard.objects.active().filter(lesson=card.lesson).count() == 1


def test_it_fills_the_search_vector(content):
    sync_content(content)
    assert Lesson.objects.search("pooling").first().slug == "connections-and-pooling"


# -- What `content check` refuses is not published (issue #21) -------------------------------

INDEXES = "postgresql/02-indexes-and-plans.md"


def line_of(path: Path, text: str) -> int:
    source = path.read_text()
    return source[: source.index(text)].count("\n") + 1


def test_it_does_not_publish_a_solution_that_fails_and_publishes_the_other_files(content):
    sync_content(content)
    lesson = content / INDEXES
    edit(lesson, "  SELECT id, amount\n  FROM orders\n", "  SELECT id, amount\n  FORM orders\n")
    edit(content / "postgresql/01-first-queries.md", "Your first queries", "First queries")
    report = sync_content(content)
    line = line_of(lesson, "id: index-for-recent-orders")
    assert [(e.path.endswith(INDEXES), e.line) for e in report.errors] == [(True, line)]
    assert "exercise 'index-for-recent-orders': the solution cannot be run" in (
        report.errors[0].message
    )
    assert 'syntax error at or near "orders"' in report.errors[0].message
    assert report.published == ["postgresql/01-first-queries.md"]
    live = Lesson.objects.by_ref("postgresql/indexes-and-plans")
    assert "FORM" not in live.exercises.get(key="index-for-recent-orders").solution_sql
    assert Lesson.objects.by_ref("postgresql/first-queries").title == "First queries"


def test_it_does_not_publish_an_example_on_a_missing_table(content):
    sync_content(content)
    lesson = content / INDEXES
    edit(
        lesson,
        "  SELECT id, amount FROM orders WHERE customer_id = 42;\nnote: Look",
        "  SELECT id FROM ordres;\nnote: Look",
    )
    report = sync_content(content)
    assert len(report.errors) == 1
    error = report.errors[0]
    assert error.line == line_of(lesson, "id: explain-customer-orders")
    assert "example 'explain-customer-orders' fails" in error.message
    assert 'relation "ordres" does not exist' in error.message
    assert report.published == []
    live = Lesson.objects.by_ref("postgresql/indexes-and-plans")
    assert "ordres" not in live.body_html


def test_it_checks_only_the_files_that_changed(content):
    first = sync_content(content)
    # Each checked sandbox lesson gets a note with its fixture's seeding time and size.
    assert sorted(note.path.rpartition("postgresql/")[2] for note in first.notes) == [
        "01-first-queries.md",
        "02-indexes-and-plans.md",
    ]
    edit(content / INDEXES, "Indexes and query plans", "Indexes and plans")
    second = sync_content(content)
    assert second.errors == []
    assert [note.path.rpartition("postgresql/")[2] for note in second.notes] == [
        "02-indexes-and-plans.md"
    ]
    assert sync_content(content).notes == []


def test_an_edited_fixture_republishes_the_lessons_that_use_it(content):
    sync_content(content)
    with (content / "fixtures" / "shop.sql").open("a") as fixture:
        fixture.write("\nCREATE TABLE coupons (code text PRIMARY KEY);\n")
    report = sync_content(content)
    assert report.errors == []
    assert sorted(report.published) == [
        "postgresql/01-first-queries.md",
        "postgresql/02-indexes-and-plans.md",
    ]


def test_a_fixture_that_breaks_keeps_the_lessons_that_use_it_at_their_last_version(content):
    sync_content(content)
    before = Lesson.objects.by_ref("postgresql/first-queries").source_hash
    with (content / "fixtures" / "shop.sql").open("a") as fixture:
        fixture.write("\nSELECT 1/0;\n")
    report = sync_content(content)
    assert len(report.errors) == 2
    assert all("fixture shop.sql fails: division by zero" in e.message for e in report.errors)
    assert report.published == []
    assert Lesson.objects.by_ref("postgresql/first-queries").source_hash == before


def test_the_sync_command_names_the_file_line_and_error_and_still_succeeds(
    content, settings, capsys
):
    from django.core.management import call_command

    settings.CONTENT_DIR = content
    call_command("content", "sync")
    edit(
        content / INDEXES,
        "  FROM orders\n  WHERE customer_id = 42 AND",
        "  FORM orders\n  WHERE customer_id = 42 AND",
    )
    capsys.readouterr()
    call_command("content", "sync")  # no CommandError: serving goes on with the last good one
    out = capsys.readouterr()
    line = line_of(content / INDEXES, "id: index-for-recent-orders")
    assert (
        f"02-indexes-and-plans.md:{line}: exercise 'index-for-recent-orders': the solution cannot"
        in out.err
    )
    assert "1 error(s): files not published" in out.out
