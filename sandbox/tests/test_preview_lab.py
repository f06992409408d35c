# ruff: noqa: F811 (pytest fixtures imported from lab_support are arguments here)
"""Check in the staff preview for a Django ORM lab draft: graded on the draft's exercise, with
the lab worker, on the draft's models and fixture; shown in place."""

from __future__ import annotations

import re

import pytest

from sandbox.tests.lab_support import lab_settings, lab_worker  # noqa: F401

pytestmark = pytest.mark.django_db

DRAFT = """---
title: Lab draft
step: 99
level: beginner
mode: django_lab
models: library
fixture: library.sql
reviewed: 2026-12-01
version: 1
summary: A lab draft.
---

## Counting

```exercise
id: count-books
prompt: How many books are there?
solution: |
  Book.objects.count()
max_queries: 1
```
"""


def test_a_lab_draft_is_checked_in_the_preview(client, staff, lab_settings):
    client.force_login(staff)
    page = client.post(
        "/learn/preview/", {"path": "postgresql/99-lab-draft.md", "source": DRAFT}
    ).content.decode()
    assert "No problems found" in page, page
    draft = re.search(r'data-draft="([0-9a-f]+)"', page).group(1)

    def check(code: str) -> str:
        response = client.post(
            "/api/lab/check",
            {
                "lesson": "postgresql/lab-draft",
                "exercise": "count-books",
                "code": code,
                "draft": draft,
            },
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 200
        return response.content.decode()

    too_many = check("n = 0\nfor book in Book.objects.all()[:3]:\n    n += Book.objects.count()\nn")
    assert "Not yet." in too_many
    right = check("len(list(Book.objects.all()))")
    assert "Correct." in right and "Book.objects.count()" in re.sub(r"<[^>]+>", "", right)
