"""A signed-in learner's lesson page comes from a shared shell with their state put in
(lessons/page_shells.py): the same page as a full render, in a fixed number of queries."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from lessons import page_cache, page_shells
from lessons.discussion_text import render_post
from lessons.models import Learner, LessonProgress, Post, Thread, Vote
from lessons.tests.discussion_helpers import opening, signed_in, start_thread

pytestmark = pytest.mark.django_db

URL = "/learn/sql/lesson-2/"
# The session, the user, and one statement for all the page shows of the learner
# (lessons/models/signed_in.py); plus the content and discussion stamps once a second.
SIGNED_IN_QUERIES = 3


@pytest.fixture
def shells_on(settings):
    settings.LESSON_PAGE_CACHE_SECONDS = 60
    page_cache.clear()
    page_shells.clear()
    yield
    page_cache.clear()
    page_shells.clear()


def without_tokens(page: str) -> str:
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "TOKEN", page)
    return re.sub(r'"X-CSRFToken": "[^"]+"', "TOKEN", page)


def busy_learner(client: Client, learner, other_learner, course) -> None:
    """A learner with some of everything the page shows of them."""
    client.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    client.post("/learn/sql/lesson-2/quiz/pick-one/", {"choice": "vacuum"})
    client.post("/learn/sql/lesson-2/self-check/what-is-a-row/", {"answer": "1"})
    client.post("/learn/sql/lesson-2/confidence/", {"level": "3"})
    client.post("/learn/sql/lesson-2/cards/card-select/", {"answer": "0"})  # again tomorrow
    client.post("/learn/sql/lesson-2/cards/card-mvcc/", {"answer": "1"})
    client.post("/learn/sql/lesson-2/quiz/pick-one/", {"choice": "select"})
    mine = start_thread(course[1], learner, title="My question")
    theirs = start_thread(course[1], other_learner, title="Their question")
    reply = mine.add_reply(author=other_learner, parent=opening(mine), body="Try EXPLAIN.")
    theirs.add_reply(author=learner, parent=opening(theirs), body="Same here.")
    Vote.objects.create(post=opening(theirs), user=learner)
    assert reply.pk


def test_it_shows_the_same_page_as_a_full_render(
    shells_on, settings, learner, other_learner, course
):
    client = signed_in(learner)
    busy_learner(client, learner, other_learner, course)
    from_shell = client.get(URL).content.decode()
    assert page_shells.get(URL) is not None
    settings.LESSON_PAGE_CACHE_SECONDS = 0
    full = client.get(URL).content.decode()
    assert without_tokens(from_shell) == without_tokens(full)
    assert "shell" not in re.sub(r"<[^>]*>", "", from_shell)  # no marker left in the text
    assert "✓ Saved" in from_shell and 'class="vote is-voted"' in from_shell
    assert '"card-select": {"knew_it": false, "due_on": "' in from_shell
    assert from_shell.count(">Edit</a>") == 2  # their thread's opening post and their reply
    assert ">Mark as answer<" in from_shell  # on the reply in their own thread


def test_it_shows_each_learner_only_their_own_buttons(shells_on, learner, other_learner, course):
    busy_learner(signed_in(learner), learner, other_learner, course)
    page = signed_in(learner).get(URL).content.decode()  # makes the shell
    other_page = signed_in(other_learner).get(URL).content.decode()  # from the same shell
    assert page.count(">Edit</a>") == other_page.count(">Edit</a>") == 2
    assert "is-voted" in page and "is-voted" not in other_page
    assert "✓ Saved" in page and "Not saved yet" in other_page
    assert "ada</span>" in page and "bob</span>" in other_page


def test_its_forms_work_with_the_csrf_token_it_gives(shells_on, learner, course):
    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    client.get(URL)
    page = client.get(URL).content.decode()
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    response = client.post("/learn/sql/lesson-2/done/", {"answer": "1"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert LessonProgress.objects.get(lesson=course[1]).is_completed


def test_it_shows_a_new_post_at_once(shells_on, learner, other_learner, course):
    client = signed_in(learner)
    client.get(URL)
    start_thread(course[1], other_learner, title="A brand new question")
    page_cache.clear()  # as the stamp check would, within LESSON_PAGE_CACHE_SECONDS
    assert "A brand new question" in client.get(URL).content.decode()


def _queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get("/learn/long/lesson-1/")
    assert response.status_code == 200
    return len(context.captured_queries)


def _many_posts(thread: Thread, authors, count: int) -> None:
    html = render_post("A reply.")
    parent = opening(thread)
    posts = Post.objects.bulk_create(
        Post(thread=thread, author=authors[n % 2], parent=parent, body="A reply.", body_html=html)
        for n in range(count)
    )
    Vote.objects.bulk_create(Vote(post=post, user=authors[0]) for post in posts[1::3])


def test_its_queries_do_not_grow_with_posts_or_lessons_done(
    shells_on, learner, other_learner, long_track
):
    lessons = list(long_track.lessons.order_by("step"))
    client = signed_in(learner)
    thread = start_thread(lessons[0], learner)
    client.get("/learn/long/lesson-1/")  # the shell, and the learner's first visit
    page_cache.revision()  # the stamps, read once a second
    few = _queries(client)

    for n in range(30):
        _many_posts(
            start_thread(lessons[0], other_learner, title=f"Thread {n}"),
            [learner, other_learner],
            16,
        )
    _many_posts(thread, [other_learner, learner], 20)
    learner_row = Learner.objects.get(user=learner)
    for lesson in lessons[1:37]:
        LessonProgress.objects.start(learner_row, lesson).mark_complete()
    page_cache.clear()
    client.get("/learn/long/lesson-1/")  # a new shell, with the new discussion
    page_cache.revision()
    many = _queries(client)

    assert Post.objects.filter(thread__lesson=lessons[0]).count() > 500
    assert few == many == SIGNED_IN_QUERIES
    page = client.get("/learn/long/lesson-1/").content.decode()
    assert page.count('title="Done">✓') == 2 * 36


def busy_visitor(client: Client) -> None:
    """A signed-out visitor who has answered, marked and flipped: their session holds a Learner."""
    client.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    client.post("/learn/sql/lesson-2/quiz/pick-one/", {"choice": "vacuum"})
    client.post("/learn/sql/lesson-2/self-check/what-is-a-row/", {"answer": "1"})
    client.post("/learn/sql/lesson-2/cards/card-mvcc/", {"answer": "1"})


def test_a_visitor_with_answers_gets_the_same_page_as_a_full_render(
    shells_on, settings, other_learner, course
):
    start_thread(course[1], other_learner, title="Their question")
    client = Client()
    busy_visitor(client)
    from_shell = client.get(URL).content.decode()
    assert page_shells.get(URL, page_shells.VISITOR) is not None
    assert page_shells.get(URL) is None  # a signed-in reader's shell is another one
    settings.LESSON_PAGE_CACHE_SECONDS = 0
    full = client.get(URL).content.decode()
    assert without_tokens(from_shell) == without_tokens(full)
    assert "shell" not in re.sub(r"<[^>]*>", "", from_shell)
    assert '"pick-one": {"attempts": 1, "correct": false}' in from_shell
    assert 'title="Done">✓' in from_shell  # lesson 1, done, ticked in the step menu
    assert ">Log in</a>" in from_shell and ">Edit</a>" not in from_shell
    assert "Their question" in from_shell


def test_a_visitor_page_from_the_shell_costs_two_queries(shells_on, course):
    client = Client()
    busy_visitor(client)
    client.get(URL)  # the shell
    page_cache.revision()  # the stamps, read once a second
    with CaptureQueriesContext(connection) as context:
        page = client.get(URL).content.decode()
    # The session and the one statement: no user to load.
    assert len(context.captured_queries) == SIGNED_IN_QUERIES - 1, context.captured_queries
    assert '"what-is-a-row": true' in page


def test_a_visitor_whose_learner_was_taken_gets_a_full_render(shells_on, learner, course, settings):
    client = Client()
    busy_visitor(client)
    # Their Learner now belongs to an account (they signed up in another browser, say).
    Learner.objects.filter(user__isnull=True).update(user=learner)
    page = client.get(URL)
    assert page.status_code == 200
    assert '"pick-one": {"attempts"' not in page.content.decode()  # nothing of the account's
