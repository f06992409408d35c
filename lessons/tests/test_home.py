from __future__ import annotations


def test_it_lists_the_tracks(client, starter_content):
    page = client.get("/").content.decode()
    assert "PostgreSQL" in page
    assert "3 lessons" in page
    assert 'href="/learn/postgresql/first-queries/">Start with step 1' in page
    assert 'href="/learn/postgresql/"' in page


def test_it_says_when_nothing_is_published(client, db):
    page = client.get("/").content.decode()
    assert "No lessons are published yet" in page


def test_it_has_a_search_box_in_the_header(client, db):
    page = client.get("/").content.decode()
    assert '<form class="header-search" role="search" method="get" action="/search/">' in page
