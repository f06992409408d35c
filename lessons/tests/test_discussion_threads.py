"""Reading and writing threads and replies: plain forms, htmx, the empty state and pages."""

from __future__ import annotations

from lessons.models import Post, Thread
from lessons.tests.discussion_helpers import (
    DISCUSSION_URL,
    NEW_THREAD_URL,
    opening,
    signed_in,
    start_thread,
)


def test_it_shows_the_empty_state_with_starter_topics(client, lesson):
    response = client.get(DISCUSSION_URL)
    assert response.status_code == 200
    text = response.content.decode()
    assert "No discussion yet. Be the first to ask a question." in text
    assert "When did autovacuum last surprise you in production?" in text


def test_it_asks_signed_out_visitors_to_sign_up_and_returns_them_here(client, lesson):
    text = client.get(DISCUSSION_URL).content.decode()
    assert "to post." in text
    assert 'href="/accounts/login/?next=/learn/postgresql/vacuum/discussion/%23discussion"' in text
    assert 'href="/accounts/signup/?next=/learn/postgresql/vacuum/discussion/%23discussion"' in text
    assert "Start a thread" not in text
    # A starter topic leads through logging in to the new-thread form, title filled in.
    assert (
        'href="/accounts/login/?next=/learn/postgresql/vacuum/discussion/new/%3Ftopic%3D1"' in text
    )


def test_it_starts_a_thread_without_javascript(lesson, learner, no_limits):
    client = signed_in(learner)
    response = client.post(NEW_THREAD_URL, {"title": "Why bloat?", "body": "My *table* grows."})
    thread = Thread.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/discussion/threads/{thread.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "Why bloat?" in page
    assert "My <em>table</em> grows." in page


def test_it_starts_a_thread_from_a_starter_topic(lesson, learner, no_limits):
    client = signed_in(learner)
    form = client.get(NEW_THREAD_URL + "?topic=1").content.decode()
    assert 'value="Have you ever needed VACUUM FULL?"' in form
    client.post(
        NEW_THREAD_URL,
        {"topic": "1", "title": "Have you ever needed VACUUM FULL?", "body": "Once, sadly."},
    )
    assert Thread.objects.get().starter_topic == "Have you ever needed VACUUM FULL?"


def test_it_starts_a_thread_in_place_with_htmx(lesson, learner, no_limits):
    client = signed_in(learner)
    response = client.post(
        NEW_THREAD_URL, {"title": "Why bloat?", "body": "It grows."}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#discussion"
    text = response.content.decode()
    assert text.lstrip().startswith('<section id="discussion"')
    assert "Why bloat?" in text
    assert "<html" not in text


def test_it_shows_form_errors_in_place(lesson, learner, no_limits):
    client = signed_in(learner)
    response = client.post(
        NEW_THREAD_URL, {"title": "", "body": ""}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422
    text = response.content.decode()
    assert "Give your thread a title." in text
    assert "Write something first." in text
    assert not Thread.objects.exists()


def test_it_limits_the_length_and_shows_a_counter(lesson, learner, settings, no_limits):
    settings.DISCUSSION_MAX_BODY_CHARS = 300
    client = signed_in(learner)
    text = client.get(DISCUSSION_URL).content.decode()
    assert 'maxlength="300"' in text
    assert '0</span> / <span class="char-max">300</span> characters' in text
    response = client.post(NEW_THREAD_URL, {"title": "Long", "body": "x" * 301})
    assert response.status_code == 422
    assert not Thread.objects.exists()


def test_it_replies_and_nests_a_reply_to_a_reply(lesson, learner, other_learner, no_limits):
    thread = start_thread(lesson, learner)
    bob = signed_in(other_learner)
    response = bob.post(f"/discussion/posts/{opening(thread).pk}/reply/", {"body": "Run VACUUM."})
    reply = Post.objects.get(parent=opening(thread))
    assert response["Location"] == f"/discussion/threads/{thread.pk}/#post-{reply.pk}"
    signed_in(learner).post(f"/discussion/posts/{reply.pk}/reply/", {"body": "Which options?"})

    text = bob.get(DISCUSSION_URL).content.decode()
    assert "Run VACUUM." in text
    assert "Which options?" in text
    assert 'replying to <a href="#post-' in text and "@bob</a>" in text
    assert "2 replies" in text


def test_it_replies_in_place_with_htmx(lesson, learner, other_learner, no_limits):
    thread = start_thread(lesson, learner)
    client = signed_in(other_learner)
    url = f"/discussion/posts/{opening(thread).pk}/reply/"
    form = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert form.lstrip().startswith("<form")
    response = client.post(url, {"body": "Try autovacuum."}, headers={"HX-Request": "true"})
    assert response["HX-Retarget"] == f"#thread-{thread.pk}"
    assert response.content.decode().lstrip().startswith(f'<article id="thread-{thread.pk}"')
    assert "Try autovacuum." in response.content.decode()


def test_it_edits_with_an_edited_mark(lesson, learner, no_limits):
    thread = start_thread(lesson, learner)
    client = signed_in(learner)
    response = client.post(
        f"/discussion/posts/{opening(thread).pk}/edit/",
        {"title": "Why is it bloated, really?", "body": "It grows **fast**."},
    )
    assert response.status_code == 302
    text = client.get(DISCUSSION_URL).content.decode()
    assert "Why is it bloated, really?" in text
    assert "It grows <strong>fast</strong>." in text
    assert 'class="post-edited"' in text


def test_it_keeps_replies_readable_when_a_post_is_deleted(
    lesson, learner, other_learner, no_limits
):
    thread = start_thread(lesson, learner, body="Original question text")
    signed_in(other_learner).post(
        f"/discussion/posts/{opening(thread).pk}/reply/", {"body": "A helpful answer"}
    )
    signed_in(learner).post(f"/discussion/posts/{opening(thread).pk}/delete/")
    text = signed_in(other_learner).get(DISCUSSION_URL).content.decode()
    assert "Original question text" not in text
    assert "[deleted]" in text
    assert "A helpful answer" in text
    assert not Post.objects.filter(body="Original question text").exists()


def test_it_lists_newest_activity_first_and_loads_more(lesson, learner, settings, no_limits):
    settings.DISCUSSION_THREADS_PER_PAGE = 2
    old, middle, new = (start_thread(lesson, learner, f"Thread {n}") for n in "ABC")
    signed_in(learner).post(f"/discussion/posts/{opening(old).pk}/reply/", {"body": "bump"})
    text = signed_in(learner).get(DISCUSSION_URL).content.decode()
    assert text.index("Thread A") < text.index("Thread C")
    assert "Thread B" not in text
    assert "Load more threads" in text
    more = signed_in(learner).get(DISCUSSION_URL + "?page=2", headers={"HX-Request": "true"})
    assert "Thread B" in more.content.decode()
    assert "<html" not in more.content.decode()
    assert "Load more threads" not in more.content.decode()


def test_it_hides_the_discussion_of_an_unpublished_track(lesson, learner, client):
    thread = start_thread(lesson, learner)
    lesson.track.is_published = False
    lesson.track.save()
    assert client.get(DISCUSSION_URL).status_code == 404
    assert client.get(f"/discussion/threads/{thread.pk}/").status_code == 404
