""" "Continue where you left off" on the home page, and progress on the track page."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_it_offers_to_continue_with_the_last_lesson_opened(client, course):
    assert "Continue where you left off" not in client.get("/").content.decode()
    client.post("/learn/sql/lesson-1/opened/")  # a new visitor's first page sends this
    client.get("/learn/sql/lesson-2/")
    page = client.get("/").content.decode()
    assert "Continue where you left off" in page
    assert 'href="/learn/sql/lesson-2/"' in page


def test_it_moves_on_once_the_last_lesson_is_done(client, course):
    client.get("/learn/sql/lesson-1/")
    client.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    page = client.get("/").content.decode()
    assert 'class="continue-card" href="/learn/sql/lesson-2/"' in page


def test_it_ticks_completed_steps_on_the_track_page(client, course):
    client.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    client.get("/learn/sql/lesson-2/")
    page = client.get("/learn/sql/").content.decode()
    assert "1 of 3 done · 33% through track" in page
    assert page.count("step-item is-done") == 1
    assert page.count("step-item is-started") == 1
    assert "Continue with step 2" in page
