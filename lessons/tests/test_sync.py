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
