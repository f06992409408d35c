from __future__ import annotations


def test_it_lists_the_steps_with_level_mode_and_reading_time(client, starter_content):
    response = client.get("/learn/postgresql/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>PostgreSQL</h1>" in page
    first = page.index("Your first queries")
    assert first < page.index("Indexes and query plans") < page.index("Connections and pooling")
    assert "Beginner" in page and "Intermediate" in page
    assert "SQL sandbox" in page and "Reading" in page
    assert "min read" in page


def test_it_answers_404_for_an_unknown_track(client, db):
    assert client.get("/learn/nope/").status_code == 404


def test_it_hides_unpublished_lessons(client, starter_content):
    from lessons.models import Lesson

    Lesson.objects.filter(slug="connections-and-pooling").update(is_published=False)
    page = client.get("/learn/postgresql/").content.decode()
    assert "Connections and pooling" not in page
