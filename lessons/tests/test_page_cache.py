from __future__ import annotations

import shutil

import pytest
from django.test import Client

from lessons import page_cache
from lessons.models import Lesson
from lessons.sync import sync_content

URL = "/learn/postgresql/first-queries/"


@pytest.fixture
def cache_on(settings, starter_content):
    settings.LESSON_PAGE_CACHE_SECONDS = 60
    page_cache.clear()
    yield
    page_cache.clear()


def test_it_serves_anonymous_visitors_without_queries(cache_on, django_assert_num_queries):
    Client().get(URL)
    with django_assert_num_queries(0):
        response = Client().get(URL)
    assert "<h1>Your first queries</h1>" in response.content.decode()


def test_it_gives_each_visitor_a_working_csrf_token(cache_on):
    Client().get(URL)
    client = Client(enforce_csrf_checks=True)
    response = client.get(URL)
    page = response.content.decode()
    assert "csrfplaceholder" not in page
    token = page.split('"X-CSRFToken": "')[1].split('"')[0]
    assert "csrftoken" in response.cookies
    answer = client.post("/search/", HTTP_X_CSRFTOKEN=token)
    assert answer.status_code == 405  # past the CSRF check, refused by the view for POST


def test_it_renders_fresh_pages_for_signed_in_learners(cache_on, client, learner):
    Client().get(URL)
    client.force_login(learner)
    assert "ada" in client.get(URL).content.decode()


def test_it_drops_pages_when_content_is_synced_again(cache_on, settings, tmp_path):
    Client().get(URL)
    Lesson.objects.filter(slug="first-queries").update(title="Changed behind the cache")
    assert "<h1>Your first queries</h1>" in Client().get(URL).content.decode()

    content = tmp_path / "content"
    shutil.copytree(settings.CONTENT_DIR, content)
    path = content / "postgresql" / "01-first-queries.md"
    path.write_text(path.read_text().replace("title: Your first queries", "title: Synced title"))
    sync_content(content)
    settings.LESSON_PAGE_CACHE_SECONDS = 0.001  # look at the stamp again now
    assert "<h1>Synced title</h1>" in Client().get(URL).content.decode()


@pytest.mark.parametrize("marker", ["\ue002csrf-token\ue002", "csrfplaceholder"])
def test_no_post_can_make_the_page_show_a_visitor_their_token(cache_on, learner, marker):
    from lessons.models import Thread

    lesson = Lesson.objects.get(slug="first-queries")
    Thread.objects.start(lesson=lesson, author=learner, title="Look", body=f"token: {marker}.")
    Client().get(URL)  # renders and caches the page with the post
    client = Client()
    page = client.get(URL).content.decode()  # from the cache
    token = page.split('"X-CSRFToken": "')[1].split('"')[0]
    assert f"token: {marker}." in page
    assert f"token: {token}." not in page
