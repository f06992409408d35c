"""The sandbox in a real browser: keyboard, highlighting, storage and the lesson-text hook."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(new_context, shop_lesson):
    return new_context().new_page()


def test_it_runs_with_ctrl_enter_and_keeps_the_query(page, shop_lesson):
    page.goto("/sandbox/sql/indexes/")
    page.fill("#sandbox-sql", "SELECT id, note FROM items WHERE id IN (9, 10) ORDER BY id")
    page.focus("#sandbox-sql")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(".sandbox-null")
    assert page.inner_text(".sandbox-table tbody") == "9\tn9\n10\tNULL"
    assert page.inner_html(".sandbox-highlight").count('class="t-k"') >= 4
    page.reload()
    assert page.input_value("#sandbox-sql").startswith("SELECT id, note")


def test_it_indents_with_tab(page, shop_lesson):
    page.goto("/sandbox/sql/indexes/")
    page.fill("#sandbox-sql", "SELECT")
    page.focus("#sandbox-sql")
    page.keyboard.press("End")
    page.keyboard.press("Tab")
    assert page.input_value("#sandbox-sql") == "SELECT  "


def test_it_gives_lesson_examples_a_run_button(page, shop_lesson):
    page.goto("/sandbox/sql/indexes/")
    page.evaluate(
        """() => {
            const pre = document.createElement('pre');
            pre.setAttribute('data-example', 'count-items');
            pre.setAttribute('data-sql', 'SELECT count(*) AS n FROM items');
            pre.textContent = 'SELECT count(*) AS n FROM items';
            document.querySelector('main').prepend(pre);
            QuerylabSandbox.scan(document);
        }"""
    )
    page.click("text=Run in sandbox")
    page.wait_for_selector(".sandbox-table")
    assert page.input_value("#sandbox-sql") == "SELECT count(*) AS n FROM items"
    assert page.inner_text(".sandbox-table tbody") == "2000"


def test_it_links_back_to_the_example_that_was_run(page, shop_lesson):
    page.goto("/sandbox/sql/indexes/")
    page.evaluate(
        """() => {
            const figure = document.createElement('figure');
            figure.id = 'example-count-items';
            figure.setAttribute('data-example', 'count-items');
            figure.setAttribute('data-sql', 'SELECT count(*) AS n FROM items');
            figure.innerHTML = '<h3 class="block-title">Count the items</h3>';
            document.querySelector('main').prepend(figure);
            QuerylabSandbox.scan(document);
        }"""
    )
    page.click("text=Run in sandbox")
    page.wait_for_selector(".sandbox-table")
    back = page.locator(".sandbox-back")
    assert back.inner_text() == "↑ Back to “Count the items”"
    assert back.get_attribute("href") == "#example-count-items"


def test_sql_in_someone_elses_post_is_loaded_never_run(page, shop_lesson, learner, other_learner):
    from django.test import Client

    from lessons.models import Thread
    from sandbox.tests.conftest import run_json

    Thread.objects.start(
        lesson=shop_lesson,
        author=other_learner,
        title="Try this, it is faster",
        body="```sql\nDELETE FROM items;\n```",
    )
    page.context.add_cookies(_session_cookie(page, learner))
    page.goto("/learn/sql/indexes/")
    post = page.locator(".post-body").first
    post.get_by_role("button", name="Load into sandbox").click()
    assert page.input_value("#sandbox-sql") == "DELETE FROM items;"
    page.wait_for_timeout(500)  # a run, if one were started, would answer within this
    assert page.locator("#sandbox-output .sandbox-table, #sandbox-output .sandbox-ok").count() == 0
    assert post.get_by_role("button", name="Run in sandbox").count() == 0
    client = Client()
    client.force_login(learner)
    body = run_json(client, shop_lesson, "SELECT count(*) FROM items")
    assert body["results"][0]["rows"] == [[2000]]


def _session_cookie(page, user) -> list[dict]:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return [
        {
            "name": settings.SESSION_COOKIE_NAME,
            "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
            "url": page.url if page.url.startswith("http") else _base_url(page),
        }
    ]


def _base_url(page) -> str:
    page.goto("/")
    return page.url
