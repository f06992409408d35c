from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from lessons.models import FlashcardReview, ReviewItem

pytestmark = pytest.mark.django_db

URL = "/learn/sql/lesson-1/cards/card-mvcc/"


def days_until(review: FlashcardReview) -> int | None:
    return (review.due_on - timezone.localdate()).days if review.due_on else None


def wait_until_due(item: ReviewItem) -> None:
    """Move time: shift the item's schedule back so that it is due now."""
    shift = item.due - timezone.now()
    ReviewItem.objects.filter(pk=item.pk).update(
        due=item.due - shift, last_review=item.last_review - shift
    )


def test_it_brings_a_card_back_tomorrow_then_later_each_time_it_is_known(client, course):
    page = client.post(URL, {"answer": "0"}).content.decode()
    assert "↻ Again" in page
    review = FlashcardReview.objects.get()
    assert days_until(review) == 1
    due_in = []
    for _ in range(3):
        wait_until_due(ReviewItem.objects.get())
        client.post(URL, {"answer": "1"})
        review.refresh_from_db()
        due_in.append(days_until(review))
    assert due_in[0] > 1 and due_in == sorted(set(due_in))  # FSRS: the intervals grow


def test_it_starts_over_when_the_learner_forgets(client, course):
    client.post(URL, {"answer": "0"})
    client.post(URL, {"answer": "1"})
    client.post(URL, {"answer": "0"})
    assert days_until(FlashcardReview.objects.get()) == 1


def test_it_keeps_a_known_card_out_of_review(client, course):
    page = client.post(URL, {"answer": "1"}).content.decode()
    assert "✓ Knew it" in page
    assert FlashcardReview.objects.get().due_on is None


def test_it_counts_a_card_due_once_its_day_comes(client, course):
    client.post(URL, {"answer": "0"})
    review = FlashcardReview.objects.get()
    assert not review.is_due
    review.due_on -= datetime.timedelta(days=1)
    assert review.is_due
