"""A long discussion renders in the same few queries as a short one."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from lessons.discussion_text import render_post
from lessons.models import Post, Thread, Vote
from lessons.tests.discussion_helpers import DISCUSSION_URL, opening, signed_in, start_thread

MAX_QUERIES = 10  # lesson, session, user, threads, posts, counts, badge


def _bulk_replies(thread: Thread, users, count: int) -> None:
    """`count` replies, every fifth one answering the previous reply, with votes."""
    parent = opening(thread)
    html = render_post("A reply with `code` and *emphasis*.")
    posts = []
    for n in range(count):
        posts.append(
            Post(
                thread=thread,
                author=users[n % len(users)],
                parent=parent,
                body="A reply with `code` and *emphasis*.",
                body_html=html,
            )
        )
    created = Post.objects.bulk_create(posts)
    for n, post in enumerate(created):
        if n % 5 == 4:
            post.parent = created[n - 1]
    Post.objects.bulk_update(created, ["parent"])
    Vote.objects.bulk_create(Vote(post=post, user=users[0]) for post in created[::3])


def _queries_for(client) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(DISCUSSION_URL)
    assert response.status_code == 200
    return len(context.captured_queries)


def test_it_renders_500_posts_in_one_thread_in_constant_queries(
    lesson, learner, other_learner, staff, django_assert_max_num_queries
):
    thread = start_thread(lesson, learner)
    thread.add_reply(author=other_learner, parent=opening(thread), body="First!")
    client = signed_in(staff)
    few = _queries_for(client)

    _bulk_replies(thread, [learner, other_learner, staff], 498)
    assert Post.objects.count() == 500
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(DISCUSSION_URL)
    assert response.content.decode().count('class="post') >= 500
    assert _queries_for(client) == few


def test_it_renders_500_posts_over_many_threads_in_constant_queries(
    lesson, learner, other_learner, settings, django_assert_max_num_queries
):
    settings.DISCUSSION_THREADS_PER_PAGE = 50
    start_thread(lesson, learner, "Only one")
    client = signed_in(other_learner)
    few = _queries_for(client)

    for n in range(49):
        thread = start_thread(lesson, learner, f"Thread {n}")
        _bulk_replies(thread, [learner, other_learner], 9)
    assert Post.objects.count() == 1 + 49 * 10
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(DISCUSSION_URL)
    assert "Thread 48" in response.content.decode()
    assert _queries_for(client) == few


def test_it_reads_signed_out_in_constant_queries(client, lesson, learner, other_learner):
    thread = start_thread(lesson, learner)
    few = _queries_for(client)
    _bulk_replies(thread, [learner, other_learner], 499)
    assert _queries_for(client) == few <= MAX_QUERIES
