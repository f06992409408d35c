"""The discussion on the lesson page itself, and the anonymous page cache keeping up with it."""

from __future__ import annotations

import time

from django.test import Client

from lessons import page_cache
from lessons.tests.discussion_helpers import opening, signed_in, start_thread

LESSON_URL = "/learn/postgresql/vacuum/"


def test_it_shows_the_discussion_under_the_lesson(client, lesson, learner, other_learner):
    thread = start_thread(lesson, learner, "Why bloat?")
    thread.add_reply(author=other_learner, parent=opening(thread), body="Autovacuum lag.")
    page = client.get(LESSON_URL).content.decode()
    assert '<section id="discussion"' in page
    assert "Why bloat?" in page and "Autovacuum lag." in page
    assert 'href="/accounts/login/?next=/learn/postgresql/vacuum/%23discussion"' in page


def test_it_offers_the_starter_topics_on_an_empty_lesson(lesson, learner):
    page = signed_in(learner).get(LESSON_URL).content.decode()
    assert "No discussion yet. Be the first to ask a question." in page
    assert "/learn/postgresql/vacuum/discussion/new/?topic=0" in page


def test_it_shows_new_posts_to_anonymous_readers_of_a_cached_page(
    lesson, learner, other_learner, settings
):
    settings.LESSON_PAGE_CACHE_SECONDS = 60
    page_cache.clear()
    thread = start_thread(lesson, learner, "Why bloat?")
    assert "Why bloat?" in Client().get(LESSON_URL).content.decode()  # now cached

    thread.add_reply(author=other_learner, parent=opening(thread), body="Fresh reply")
    settings.LESSON_PAGE_CACHE_SECONDS = 0.001  # look at the stamps again now
    time.sleep(0.01)
    assert "Fresh reply" in Client().get(LESSON_URL).content.decode()
    page_cache.clear()
