"""Text that shows something other than what was typed: direction controls and piles of
combining marks in thread titles and posts (lessons/spoofing.py)."""

from __future__ import annotations

from lessons.models import Post, Thread
from lessons.tests.discussion_helpers import NEW_THREAD_URL, opening, signed_in, start_thread

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE
RLM = "\u200f"  # RIGHT-TO-LEFT MARK
ACUTE = "\u0301"


def test_it_refuses_a_title_with_a_right_to_left_override(lesson, learner, no_limits):
    client = signed_in(learner)
    response = client.post(NEW_THREAD_URL, {"title": f"Free {RLO}exe.txt", "body": "Open it."})
    assert response.status_code == 422
    assert (
        "The title contains an invisible text-direction character "
        "(U+202E RIGHT-TO-LEFT OVERRIDE)" in response.content.decode()
    )
    assert not Thread.objects.exists()


def test_it_refuses_a_title_with_a_direction_mark(lesson, learner, no_limits):
    client = signed_in(learner)
    response = client.post(NEW_THREAD_URL, {"title": f"abc{RLM}123", "body": "Hm."})
    assert response.status_code == 422
    assert "(U+200F RIGHT-TO-LEFT MARK)" in response.content.decode()
    assert not Thread.objects.exists()


def test_it_refuses_a_post_with_a_direction_isolate(lesson, learner, other_learner, no_limits):
    thread = start_thread(lesson, other_learner)
    client = signed_in(learner)
    response = client.post(
        f"/discussion/posts/{opening(thread).pk}/reply/",
        {"body": "Run \u2067DROP TABLE users\u2069 first."},
    )
    assert response.status_code == 422
    assert (
        "Your post contains an invisible text-direction character "
        "(U+2067 RIGHT-TO-LEFT ISOLATE)" in response.content.decode()
    )
    assert thread.posts.count() == 1


def test_it_keeps_direction_marks_in_a_right_to_left_post(lesson, learner, no_limits):
    # "I ran VACUUM on the table." in Hebrew, with an RLM after the Latin word.
    body = (
        f"\u05d4\u05e8\u05e6\u05ea\u05d9 VACUUM{RLM} \u05e2\u05dc \u05d4\u05d8\u05d1\u05dc\u05d4."
    )
    client = signed_in(learner)
    response = client.post(NEW_THREAD_URL, {"title": "VACUUM in Hebrew", "body": body})
    assert response.status_code == 302
    assert Post.objects.get().body == body


def test_it_refuses_a_post_buried_under_combining_marks(lesson, learner, no_limits):
    client = signed_in(learner)
    response = client.post(
        NEW_THREAD_URL, {"title": "Hello", "body": "Z" + "\u0336\u0353\u0489" * 1000}
    )
    assert response.status_code == 422
    assert (
        "Your post stacks more than 4 combining marks (accents and the like) on one character"
        in response.content.decode()
    )
    assert not Thread.objects.exists()


def test_it_refuses_a_title_with_five_marks_on_one_letter(lesson, learner, no_limits):
    client = signed_in(learner)
    response = client.post(
        NEW_THREAD_URL, {"title": "Iq\u0300\u0301\u0302\u0303\u0304 quiz", "body": "Hi."}
    )
    assert response.status_code == 422
    assert "The title stacks more than 4 combining marks" in response.content.decode()
    assert not Thread.objects.exists()


def test_it_accepts_vietnamese_and_accents_typed_as_marks(lesson, learner, no_limits):
    # "Tiếng Việt", with each accent a separate combining mark: NFC makes them one letter.
    title = f"Tie\u0302{ACUTE}ng Vie\u0323\u0302t"
    client = signed_in(learner)
    response = client.post(NEW_THREAD_URL, {"title": title, "body": "Xin chào."})
    assert response.status_code == 302
    assert Thread.objects.get().title == title


def test_it_refuses_an_edit_that_adds_an_override(lesson, learner, no_limits):
    thread = start_thread(lesson, learner)
    client = signed_in(learner)
    response = client.post(
        f"/discussion/posts/{opening(thread).pk}/edit/",
        {"title": f"Why {RLO}gnp.exe", "body": "It grows every day."},
    )
    assert response.status_code == 422
    assert "The title contains an invisible text-direction character" in response.content.decode()
    thread.refresh_from_db()
    assert thread.title == "Why is my table bloated?"
