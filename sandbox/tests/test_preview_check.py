"""Check in the staff preview grades the draft itself, on the draft's own fixture: never the
published lesson, a named file as it is on disk, every outcome shown in place (status 200)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

FIXTURE = """
CREATE TABLE items (id int PRIMARY KEY, price int NOT NULL);
INSERT INTO items SELECT g, g * 10 FROM generate_series(1, 30) g;
ANALYZE;
"""

LESSON = """---
title: Prices
step: 1
level: beginner
mode: sql_sandbox
reviewed: 2026-12-01
version: 1
summary: Cheap items.
fixture: {fixture}
---

## Cheap items

```example
id: count-items
sql: SELECT count(*) AS n FROM items;
```

```exercise
id: cheap
prompt: List the ids of the items under {limit}, by id.
solution: |
  SELECT id FROM items WHERE price < {limit} ORDER BY id;
order_matters: true
```
"""


def lesson_text(limit: int, fixture: str = "prices.sql") -> str:
    return LESSON.replace("{limit}", str(limit)).replace("{fixture}", fixture)


@pytest.fixture
def content(tmp_path, settings) -> Path:
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "prices.sql").write_text(FIXTURE)
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "track.yml").write_text("title: Shop\nsummary: Shop.\norder: 5\n")
    settings.CONTENT_DIR = tmp_path
    settings.SANDBOX_FIXTURES_DIR = tmp_path / "fixtures"
    return tmp_path


def preview(client, **data) -> str:
    page = client.post("/learn/preview/", data).content.decode()
    assert "No problems found" in page, page
    return re.search(r'data-draft="([0-9a-f]+)"', page).group(1)


def check(client, draft: str, sql: str, exercise: str = "cheap") -> str:
    response = client.post(
        "/api/sandbox/check",
        {"lesson": "shop/prices", "exercise": exercise, "sql": sql, "draft": draft},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    return response.content.decode()


def test_a_pasted_draft_is_checked_on_its_own_fixture(client, staff, content):
    client.force_login(staff)
    draft = preview(client, path="shop/01-prices.md", source=lesson_text(55))
    wrong = check(client, draft, "SELECT id FROM items WHERE price <= 55 ORDER BY id DESC")
    assert "Not yet." in wrong and "the right rows, in the wrong order" in wrong
    right = check(client, draft, "SELECT id FROM items WHERE price < 55 ORDER BY id")
    assert "Correct." in right
    assert "price &lt; 55" in re.sub(r"<[^>]+>", "", right)  # the draft's own solution
    broken = check(client, draft, "SELECT id FORM items")
    assert 'class="sandbox-error"' in broken and "syntax error" in broken


def test_a_named_file_is_checked_as_it_is_on_disk_not_as_published(client, staff, content):
    lesson = content / "shop" / "01-prices.md"
    lesson.write_text(lesson_text(55))
    call_command("content", "sync")
    client.force_login(staff)
    draft = preview(client, path="shop/01-prices.md")
    lesson.write_text(lesson_text(105))  # edited after the preview, not published
    answer = "SELECT id FROM items WHERE price < 105 ORDER BY id"
    assert "Correct." in check(client, draft, answer)
    published = client.post(
        "/api/sandbox/check",
        {"lesson": "shop/prices", "exercise": "cheap", "sql": answer},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Not yet." in published


def test_a_broken_fixture_or_a_lost_draft_is_said_in_place(client, staff, content):
    client.force_login(staff)
    (content / "fixtures" / "broken.sql").write_text("CREATE TABLE items (id int);\nSELECT 1/0;\n")
    draft = preview(client, path="shop/01-prices.md", source=lesson_text(55, "broken.sql"))
    answer = check(client, draft, "SELECT 1")
    assert "The draft&#x27;s fixture fails: division by zero" in answer
    gone = check(client, "0" * 32, "SELECT 1")
    assert "This draft is no longer in your session: press Preview again." in gone


def test_only_staff_check_drafts(client, learner, content):
    client.force_login(learner)
    assert "Only staff can check drafts." in check(client, "0" * 32, "SELECT 1")


def test_a_draft_runs_and_explains_on_a_fresh_copy_of_its_fixture(client, staff, content):
    client.force_login(staff)
    draft = preview(client, path="shop/01-prices.md", source=lesson_text(55))

    def call(endpoint: str, sql: str) -> dict:
        response = client.post(
            f"/api/sandbox/{endpoint}",
            {"lesson": "shop/prices", "sql": sql, "draft": draft},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        return response.json()

    deleted = call("run", "DELETE FROM items WHERE id > 10; SELECT count(*) FROM items")
    assert deleted["ok"] and deleted["results"][-1]["rows"] == [[10]]
    # Nothing is kept: the next run starts from the fixture again.
    assert call("run", "SELECT count(*) FROM items")["results"][0]["rows"] == [[30]]
    # A COMMIT would end the rolled-back transaction and change the shared grader sandbox.
    committed = call("run", "DELETE FROM items; COMMIT")
    assert not committed["ok"] and "leave out BEGIN, COMMIT" in committed["error"]["message"]
    assert call("run", "SELECT count(*) FROM items")["results"][0]["rows"] == [[30]]
    explained = call("explain", "SELECT * FROM items WHERE id = 3")
    assert explained["ok"] and explained["plan"][0]["Plan"]["Relation Name"] == "items"
    html = client.post(
        "/api/sandbox/explain",
        {"lesson": "shop/prices", "sql": "SELECT * FROM items WHERE id = 3", "draft": draft},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "plan-tree" in html and " on items" in html  # the plan view, drawn
    refused = client.post(
        "/api/sandbox/run",
        {"lesson": "shop/prices", "sql": "SELECT 1", "draft": "0" * 32},
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("This draft is no longer in your session")


def test_the_preview_runs_the_sandbox_checks_when_asked(client, staff, content):
    client.force_login(staff)
    typo = lesson_text(55).replace("SELECT id FROM items WHERE price", "SELECT id FORM items WHERE")
    data = {"path": "shop/01-prices.md", "source": typo}
    assert "No problems found" in client.post("/learn/preview/", data).content.decode()
    page = client.post("/learn/preview/", {**data, "run_checks": "on"}).content.decode()
    assert "1 problem — this lesson would not be published" in page
    line = typo[: typo.index("id: cheap")].count("\n") + 1
    assert f"shop/01-prices.md:{line}</code> exercise &#x27;cheap&#x27;: the solution" in page
    assert "syntax error" in page
    assert "No problems found" not in page
    right = client.post(
        "/learn/preview/", {**data, "source": lesson_text(55), "run_checks": "on"}
    ).content.decode()
    assert "No problems found, the sandbox checks included." in right


def test_a_drafts_exercise_offers_its_solution_at_once_in_the_preview(client, staff, content):
    client.force_login(staff)
    draft = preview(client, path="shop/01-prices.md", source=lesson_text(55))
    page = client.get(
        "/api/sandbox/exercise-help",
        {"lesson": "shop/prices", "exercise": "cheap", "draft": draft},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Show the solution" in page and "Give up" not in page
    shown = client.post(
        "/api/sandbox/solution",
        {"lesson": "shop/prices", "exercise": "cheap", "draft": draft},
        content_type="application/json",
    )
    assert shown.status_code == 200 and "price < 55" in shown.json()["solution"]
