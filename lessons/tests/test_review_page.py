from __future__ import annotations

import datetime

import pytest

from lessons.models import FlashcardReview

pytestmark = pytest.mark.django_db


def test_it_brings_back_cards_from_every_lesson_due_first(client, course):
    client.post("/learn/sql/lesson-1/cards/card-mvcc/", {"answer": "0"})
    client.post("/learn/sql/lesson-3/cards/card-select/", {"answer": "0"})
    client.post("/learn/sql/lesson-2/cards/card-select/", {"answer": "1"})  # known: not in review
    FlashcardReview.objects.filter(card__lesson__slug="lesson-3").update(
        due_on=datetime.date.today() - datetime.timedelta(days=2)
    )
    page = client.get("/review/").content.decode()
    assert "1 card to review" in page
    due, later = page.split("Coming up")
    assert "Lesson 3" in due and "Due today" in due
    assert "Lesson 1" in later and "Multi-version concurrency control." in later
    assert "Lesson 2" not in page


def test_it_says_when_nothing_is_due(client, course):
    page = client.get("/review/").content.decode()
    assert "Nothing due today" in page
    assert "No cards in your pile" in page
