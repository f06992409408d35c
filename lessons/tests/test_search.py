from __future__ import annotations

from django.contrib.postgres.search import SearchVector

from lessons.models import Lesson


def test_it_finds_the_pooling_lesson_first(client, starter_content):
    page = client.get("/search/?q=pooling").content.decode()
    first = page.index('<h2><a href="/learn/')
    assert page[first:].startswith('<h2><a href="/learn/postgresql/connections-and-pooling/">')


def test_it_highlights_matches_in_the_snippet(client, starter_content):
    page = client.get("/search/?q=pgbouncer").content.decode()
    assert "<mark>PgBouncer</mark>" in page


def test_it_escapes_lesson_text_in_snippets(client, starter_content):
    lessons = Lesson.objects.filter(slug="first-queries")
    lessons.update(body_text="when a < b & \"c\" > 'd' the zebra wins")
    lessons.update(search_vector=SearchVector("body_text", config="english"))
    page = client.get("/search/?q=zebra").content.decode()
    assert "a &lt; b &amp; &quot;c&quot; &gt; &#x27;d&#x27; the <mark>zebra</mark> wins" in page


def test_it_ranks_titles_above_bodies(client, starter_content):
    results = list(Lesson.objects.search("indexes"))
    assert results[0].slug == "indexes-and-plans"


def test_it_says_when_nothing_matches(client, starter_content):
    page = client.get("/search/?q=xylophone").content.decode()
    assert "Nothing matches" in page


def test_it_returns_only_the_results_to_htmx(client, starter_content):
    response = client.get("/search/?q=pooling", headers={"HX-Request": "true"})
    page = response.content.decode()
    assert "Connections and pooling" in page
    assert "<html" not in page
