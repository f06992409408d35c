"""Every known trick for running script through a post, posted through the real forms."""

from __future__ import annotations

import pytest

from lessons.models import Post, Thread
from lessons.tests.discussion_helpers import DISCUSSION_URL, NEW_THREAD_URL, signed_in
from lessons.tests.html_safety import executable_parts
from lessons.tests.xss_payloads import XSS_PAYLOADS


def test_it_has_a_real_corpus():
    assert len(XSS_PAYLOADS) >= 30


def test_it_shows_no_payload_in_executable_form(
    lesson, learner, other_learner, settings, no_limits
):
    settings.DISCUSSION_THREADS_PER_PAGE = 1000
    author = signed_in(learner)
    for payload in XSS_PAYLOADS:
        response = author.post(NEW_THREAD_URL, {"title": payload[:150], "body": payload})
        assert response.status_code == 302, payload
    assert Thread.objects.count() == len(XSS_PAYLOADS)
    # Replies and edits go through the same pipeline.
    first = Post.objects.filter(parent__isnull=True).first()
    for payload in XSS_PAYLOADS[:10]:
        signed_in(other_learner).post(f"/discussion/posts/{first.pk}/reply/", {"body": payload})
    author.post(f"/discussion/posts/{first.pk}/edit/", {"title": "t", "body": XSS_PAYLOADS[0]})

    for post in Post.objects.all():
        assert executable_parts(post.body_html) == [], post.body

    for client in (signed_in(other_learner), signed_in(learner)):
        page = client.get(DISCUSSION_URL).content.decode()
        assert executable_parts(page) == []
        thread_page = client.get(f"/discussion/threads/{first.thread_id}/").content.decode()
        assert executable_parts(thread_page) == []


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[x](javascript:alert(1))",
    ],
)
def test_it_shows_raw_html_as_text(lesson, learner, payload, no_limits):
    signed_in(learner).post(NEW_THREAD_URL, {"title": "Look", "body": payload})
    html = Post.objects.get().body_html
    assert "alert(1)" in html  # shown, as text
    assert executable_parts(html) == []


def test_it_escapes_sql_for_the_sandbox_attribute(lesson, learner, no_limits):
    body = "```sql\nSELECT '\"><img src=x onerror=alert(1)>';\n```"
    signed_in(learner).post(NEW_THREAD_URL, {"title": "SQL", "body": body})
    html = Post.objects.get().body_html
    assert "data-sql=\"SELECT '&quot;&gt;&lt;img src=x onerror=alert(1)&gt;';\"" in html
    assert executable_parts(html) == []


def test_it_would_notice_executable_html():
    # The checker itself: each of these must be reported.
    for html in (
        "<main><script>alert(1)</script>",
        '<main><a href=" javascript:alert(1)">x</a>',
        '<main><p onclick="alert(1)">x</p>',
        '<main><a href="data:text/html,x">x</a>',
        "<main><svg></svg>",
    ):
        assert executable_parts(html), html
