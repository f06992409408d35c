from __future__ import annotations

from django.conf import settings

DRAFT = """---
title: A draft
step: 4
level: beginner
mode: reading
reviewed: 2026-11-20
version: 1
summary: Just a draft.
---

## Hello

Read [the first lesson](01-first-queries.md) first.
"""


def test_it_sends_anonymous_visitors_to_log_in(client, db):
    response = client.get("/learn/preview/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_forbids_learners(client, learner):
    client.force_login(learner)
    assert client.get("/learn/preview/").status_code == 403


def test_it_renders_pasted_markdown(client, staff):
    client.force_login(staff)
    page = client.post(
        "/learn/preview/", {"path": "postgresql/04-draft.md", "source": DRAFT}
    ).content.decode()
    assert "No problems found" in page
    assert "<h1>A draft</h1>" in page
    assert '<h2 id="hello">Hello</h2>' in page
    assert 'href="/learn/postgresql/first-queries/"' in page


def test_it_shows_validation_errors_inline(client, staff):
    client.force_login(staff)
    broken = DRAFT.replace("level: beginner", "level: expert")
    page = client.post(
        "/learn/preview/", {"path": "postgresql/04-draft.md", "source": broken}
    ).content.decode()
    assert "would not be published" in page
    assert "postgresql/04-draft.md:4</code> `level` must be one of" in page


def test_it_renders_a_file_under_content(client, staff):
    client.force_login(staff)
    page = client.get(
        "/learn/preview/", {"path": "postgresql/03-connections-and-pooling.md"}
    ).content.decode()
    assert "<h1>Connections and pooling</h1>" in page


def test_it_refuses_paths_outside_content(client, staff):
    client.force_login(staff)
    assert (settings.BASE_DIR / "manage.py").exists()
    page = client.get("/learn/preview/", {"path": "../README.md"}).content.decode()
    assert "Give a .md file inside content/." in page
