"""The postgresql track's bar (issue 8): every lesson has every part a learner relies on.

This reads the real lessons in content/, so a lesson that loses a part fails here.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from markdown_it import MarkdownIt

from lessons.content import LessonSpec, check_tree

CONTENT = settings.BASE_DIR / "content"
RESULT = check_tree(CONTENT)
LESSONS = sorted(
    (lesson for lesson in RESULT.lessons if lesson.track == "postgresql"), key=lambda x: x.step
)


def source_of(lesson: LessonSpec) -> str:
    return (CONTENT / lesson.path).read_text()


def prose_words(lesson: LessonSpec) -> int:
    """Words of prose: paragraphs, headings, lists and tables, not code or structured blocks."""
    body = source_of(lesson).split("\n---\n", 1)[1]
    tokens = MarkdownIt("commonmark").enable("table").parse(body)
    return sum(len(re.findall(r"\w+", token.content)) for token in tokens if token.type == "inline")


def blocks_of(lesson: LessonSpec, kind: str) -> int:
    body = source_of(lesson).split("\n---\n", 1)[1]
    tokens = MarkdownIt("commonmark").parse(body)
    return sum(1 for token in tokens if token.type == "fence" and token.info.strip() == kind)


def ids(lessons):
    return [f"{lesson.step:02d}-{lesson.slug}" for lesson in lessons]


def test_the_track_has_36_lessons_and_no_errors():
    assert RESULT.errors == []
    assert [lesson.step for lesson in LESSONS] == list(range(1, 37))


@pytest.mark.parametrize("lesson", LESSONS, ids=ids(LESSONS))
def test_each_lesson_opens_explains_and_sums_up(lesson):
    first_paragraph = source_of(lesson).split("\n---\n", 1)[1].strip().split("\n\n")[0]
    assert "This lesson teaches" in first_paragraph
    assert any(entry["title"] == "Summary" for entry in lesson.toc)
    assert 500 <= prose_words(lesson) <= 1500, prose_words(lesson)
    assert lesson.summary and lesson.reviewed and lesson.version >= 1


@pytest.mark.parametrize("lesson", LESSONS, ids=ids(LESSONS))
def test_each_lesson_has_its_questions_and_cards(lesson):
    assert len(lesson.questions) >= 4
    for question in lesson.questions:
        assert question.explanation_html.strip()
        assert any(not choice.correct for choice in question.choices)
    assert 2 <= len(lesson.self_checks) <= 4
    assert 2 <= len(lesson.interview) <= 4
    assert all(item.answer_html.strip() for item in lesson.interview)
    assert blocks_of(lesson, "pitfall") >= 1
    assert len(lesson.flashcards) >= 4
    assert len(lesson.discussion) == 2


@pytest.mark.parametrize(
    "lesson",
    [x for x in LESSONS if x.mode == "sql_sandbox"],
    ids=ids(x for x in LESSONS if x.mode == "sql_sandbox"),
)
def test_each_sandbox_lesson_has_a_fixture_examples_and_graded_exercises(lesson):
    assert (CONTENT / "fixtures" / lesson.fixture).is_file()
    assert len(lesson.examples) >= 2
    assert len(lesson.exercises) >= 2
    for exercise in lesson.exercises:
        assert len(exercise.hints_html) >= 1, exercise.key
        assert len(exercise.variants) >= 1, exercise.key


def test_most_of_lessons_2_to_30_run_in_the_sandbox():
    middle = [lesson for lesson in LESSONS if 2 <= lesson.step <= 30]
    assert sum(lesson.mode == "sql_sandbox" for lesson in middle) > len(middle) / 2


def test_the_lessons_about_plans_check_plans():
    about_plans = [
        x
        for x in LESSONS
        if x.slug
        in {
            "btree-indexes",
            "reading-explain",
            "composite-partial-expression-indexes",
            "gin-gist-brin",
        }
    ]
    assert len(about_plans) == 4
    for lesson in about_plans:
        assert any(exercise.plan_checks for exercise in lesson.exercises), lesson.slug


def test_lesson_32_carries_the_reference_starter_topics():
    lesson = next(x for x in LESSONS if x.step == 32)
    assert lesson.discussion == ["CONN_MAX_AGE?", "Migration lock?"]
