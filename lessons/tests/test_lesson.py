from __future__ import annotations


def test_it_shows_where_the_lesson_sits_in_its_track(client, starter_content):
    response = client.get("/learn/postgresql/indexes-and-plans/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>Indexes and query plans</h1>" in page
    assert "Step 2/3" in page
    assert "0% through track" in page  # from completed lessons (test_lesson_progress.py)
    assert "SQL sandbox" in page
    assert "Intermediate" in page
    assert "20 Nov 2026" in page and "v1" in page
    assert "min</dd>" in page


def test_it_links_previous_next_and_every_step(client, starter_content):
    page = client.get("/learn/postgresql/indexes-and-plans/").content.decode()
    assert '<link rel="prev" href="/learn/postgresql/first-queries/">' in page
    assert '<link rel="next" href="/learn/postgresql/connections-and-pooling/">' in page
    assert 'aria-current="page"' in page
    assert page.count('href="/learn/postgresql/connections-and-pooling/"') >= 3


def test_it_has_a_table_of_contents(client, starter_content):
    page = client.get("/learn/postgresql/indexes-and-plans/").content.decode()
    assert '<a href="#reading-a-plan">Reading a plan</a>' in page
    assert '<h2 id="reading-a-plan">Reading a plan</h2>' in page


def test_it_shows_the_blocks_but_not_their_answers(client, starter_content):
    page = client.get("/learn/postgresql/first-queries/").content.decode()
    assert 'class="block block-quiz"' in page
    assert 'type="radio" name="choice" value="c"' in page
    assert "Two unknown values are not known to be equal" not in page  # feedback
    assert "Any comparison with NULL" not in page  # explanation
    assert "Filter groups with" not in page  # self-check answer
    assert "JOIN customers AS c ON c.id = o.customer_id\nWHERE" not in page  # solution
    assert 'data-sql="SELECT id, customer_id, status' in page
    assert "Run in sandbox" in page
    assert "What was the first query you ever wrote against production?" in page


def test_it_answers_404_for_an_unpublished_lesson(client, starter_content):
    from lessons.models import Lesson

    Lesson.objects.filter(slug="first-queries").update(is_published=False)
    assert client.get("/learn/postgresql/first-queries/").status_code == 404


def test_it_needs_few_queries_whatever_the_length_of_the_track(
    client, long_track, django_assert_max_num_queries
):
    with django_assert_max_num_queries(6):
        response = client.get("/learn/long/lesson-20/")
    page = response.content.decode()
    assert "Step 20/40" in page
    assert "0% through track" in page


def test_it_needs_few_queries_for_a_signed_in_learner(
    client, learner, long_track, django_assert_max_num_queries
):
    client.force_login(learner)
    # 6 without the learning loop (session, user, lesson, outline, discussion threads, unread
    # notifications); the learner's progress adds 2 (test_lesson_progress.py says which).
    with django_assert_max_num_queries(8):
        response = client.get("/learn/long/lesson-40/")
    assert "Step 40/40" in response.content.decode()
