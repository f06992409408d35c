"""Abuse limits: posts per minute (429), duplicates, and new accounts' first day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from lessons.models import Post, Thread
from lessons.tests.discussion_helpers import NEW_THREAD_URL, opening, signed_in, start_thread


@pytest.fixture
def seasoned(learner):
    learner.date_joined = timezone.now() - timedelta(days=30)
    learner.save()
    return learner


def test_it_answers_429_with_a_friendly_message(lesson, seasoned, settings):
    settings.DISCUSSION_POSTS_PER_MINUTE = 2
    client = signed_in(seasoned)
    for n in range(2):
        assert client.post(NEW_THREAD_URL, {"title": f"T{n}", "body": f"B{n}"}).status_code == 302
    response = client.post(NEW_THREAD_URL, {"title": "T3", "body": "B3"})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 61
    text = response.content.decode()
    assert "You are posting faster than 2 posts a minute." in text
    assert "B3" in text  # the text is kept in the form
    assert Thread.objects.count() == 2


def test_it_answers_429_in_place_with_htmx(lesson, seasoned, settings):
    settings.DISCUSSION_POSTS_PER_MINUTE = 1
    thread = start_thread(lesson, seasoned)
    response = signed_in(seasoned).post(
        f"/discussion/posts/{opening(thread).pk}/reply/",
        {"body": "too soon"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 429
    assert response.content.decode().lstrip().startswith("<form")
    assert "Please wait" in response.content.decode()


def test_it_lets_a_user_post_again_after_a_minute(lesson, seasoned, settings):
    settings.DISCUSSION_POSTS_PER_MINUTE = 1
    start_thread(lesson, seasoned)
    Post.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    response = signed_in(seasoned).post(NEW_THREAD_URL, {"title": "Again", "body": "Fine now"})
    assert response.status_code == 302


def test_it_limits_new_accounts_further(lesson, learner, settings):
    settings.DISCUSSION_POSTS_PER_MINUTE = 100
    settings.DISCUSSION_NEW_ACCOUNT_POSTS_PER_MINUTE = 1
    client = signed_in(learner)  # joined just now
    assert client.post(NEW_THREAD_URL, {"title": "One", "body": "First"}).status_code == 302
    response = client.post(NEW_THREAD_URL, {"title": "Two", "body": "Second"})
    assert response.status_code == 429


def test_it_caps_a_new_accounts_first_day(lesson, learner, settings):
    settings.DISCUSSION_NEW_ACCOUNT_POSTS_PER_MINUTE = 100
    settings.DISCUSSION_NEW_ACCOUNT_POSTS_PER_DAY = 3
    for n in range(3):
        start_thread(lesson, learner, f"T{n}", body=f"body {n}")
    Post.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    response = signed_in(learner).post(NEW_THREAD_URL, {"title": "Four", "body": "Fourth"})
    assert response.status_code == 429
    assert "New accounts can post 3 times in their first day" in response.content.decode()


def test_it_does_not_limit_staff(lesson, staff, settings):
    settings.DISCUSSION_NEW_ACCOUNT_POSTS_PER_MINUTE = 1
    client = signed_in(staff)
    for n in range(3):
        assert client.post(NEW_THREAD_URL, {"title": f"T{n}", "body": f"B{n}"}).status_code == 302


def test_it_refuses_the_same_post_twice(lesson, seasoned, settings):
    thread = start_thread(lesson, seasoned, body="Have you tried   VACUUM?")
    response = signed_in(seasoned).post(
        f"/discussion/posts/{opening(thread).pk}/reply/", {"body": "have you tried vacuum?"}
    )
    assert response.status_code == 422
    assert "You have already posted exactly this." in response.content.decode()
    assert Post.objects.count() == 1
