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


def test_it_lists_the_tracks_by_their_order(client, db):
    from lessons.models import Lesson, Track

    # Made in the reverse of their order: without an ORDER BY, the grouped query behind the
    # cards returns them in whatever order PostgreSQL's grouping gives.
    for order in (6, 5, 4, 3, 2, 1):
        track = Track.objects.create(slug=f"track-{order}", title=f"Track {order}", order=order)
        Lesson.objects.create(track=track, slug="first", step=1, title=f"First of {order}")
    page = client.get("/").content.decode()
    positions = [page.find(f">Track {order}</a>") for order in range(1, 7)]
    assert -1 not in positions and positions == sorted(positions), positions
