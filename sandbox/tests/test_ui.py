from __future__ import annotations

from django.test import override_settings


def _htmx(client, action, lesson, sql):
    return client.post(
        f"/api/sandbox/{action}", {"lesson": lesson.ref, "sql": sql}, HTTP_HX_REQUEST="true"
    )


def test_it_renders_a_lessons_sandbox(client, shop_lesson):
    page = client.get("/sandbox/sql/indexes/").content.decode()
    assert 'data-lesson="sql/indexes"' in page
    assert 'hx-post="/api/sandbox/run"' in page
    assert ">Explain</button>" in page and ">Reset</button>" in page
    assert "explaining never changes your sandbox" in page
    assert "/static/sandbox/sandbox.js" in page


def test_it_has_no_sandbox_page_for_reading_lessons(client, reading_lesson):
    assert client.get("/sandbox/sql/reading/").status_code == 404
    assert client.get("/sandbox/sql/nothing/").status_code == 404


def test_it_shows_results_with_types_and_null(client, shop_lesson):
    page = _htmx(client, "run", shop_lesson, "SELECT id, note FROM items WHERE id = 10").content
    page = page.decode()
    assert '<span class="sandbox-type">int4</span>' in page
    assert '<td class="sandbox-null">NULL</td>' in page
    assert "1 row" in page


def test_it_marks_the_error_position(client, shop_lesson):
    page = _htmx(client, "run", shop_lesson, "SELECT 1;\nSELECT nope FROM items").content.decode()
    assert 'data-error-position="18"' in page
    assert "line 2: </span>SELECT <mark>n</mark>ope FROM items" in page


def test_it_shows_the_plan_and_says_nothing_changed(client, shop_lesson):
    page = _htmx(client, "explain", shop_lesson, "DELETE FROM items").content.decode()
    assert "Delete on items" in page and "rolled back, nothing changed" in page


def test_it_says_when_a_limit_was_reached(client, shop_lesson, settings):
    settings.SANDBOX_RUNS_PER_MINUTE = 0
    response = _htmx(client, "run", shop_lesson, "SELECT 1")
    assert response.status_code == 429
    assert "Runs per minute limit" in response.content.decode()


def test_it_says_sandbox_unavailable_when_the_server_is_down(client, shop_lesson):
    # The page never asks the server itself: it shows what the last run (or /healthz) found.
    with override_settings(SANDBOX_DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing"):
        response = _htmx(client, "run", shop_lesson, "SELECT 1")
        page = client.get("/sandbox/sql/indexes/").content.decode()
    assert "Sandbox unavailable." in page
    assert "disabled" in page
    assert response.status_code == 503
    assert "Sandbox unavailable" in response.content.decode()


def test_it_indents_plan_nodes_without_a_style_attribute(client, shop_lesson):
    # The Content-Security-Policy (style-src 'self') would drop a style attribute.
    sql = "SELECT * FROM items ORDER BY note LIMIT 3"
    page = _htmx(client, "explain", shop_lesson, sql).content.decode()
    assert 'class="plan-node' in page
    assert 'data-indent="0"' in page and 'data-indent="2"' in page
    assert "style=" not in page


def test_the_page_does_not_ask_the_sandbox_server(client, shop_lesson, monkeypatch):
    import psycopg

    def refuse(*args, **kwargs):
        raise AssertionError("the page connected to the sandbox server")

    monkeypatch.setattr(psycopg, "connect", refuse)
    with override_settings(SANDBOX_DATABASE_URL="postgresql://nobody@127.0.0.1:2/unknown"):
        page = client.get("/sandbox/sql/indexes/").content.decode()
    assert "Sandbox unavailable." not in page
