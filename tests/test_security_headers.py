"""Every kind of page the site serves carries the Content-Security-Policy and Permissions-Policy
headers, with DEBUG on and off, and the CSRF cookie is out of reach of script."""

from __future__ import annotations

import pytest
from django.test import Client

from lessons import page_cache
from lessons.models import Lesson, Thread, Track

EXPECTED_CSP = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "connect-src": {"'self'"},
    "form-action": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'none'"},
    "frame-ancestors": {"'none'"},
}
DENIED_FEATURES = ["camera", "microphone", "geolocation", "payment", "usb", "browsing-topics"]

# One URL of every kind of page, and what it answers (so a broken page does not pass unseen).
PAGES = {
    "home": ("/", 200),
    "track": ("/learn/postgresql/", 200),
    "lesson": ("/learn/postgresql/vacuum/", 200),
    "lesson discussion": ("/learn/postgresql/vacuum/discussion/", 200),
    "thread": ("/discussion/threads/{thread}/", 200),
    "search": ("/search/?q=vacuum", 200),
    "progress": ("/progress/", 200),
    "review": ("/review/", 200),
    "login": ("/accounts/login/", 200),
    "signup": ("/accounts/signup/", 200),
    "password reset": ("/accounts/password_reset/", 200),
    "not found": ("/no-such-page/", 404),
    "health": ("/healthz", None),  # 503 when a database is down, and still a page
    "admin login": ("/admin/login/", 200),
}


@pytest.fixture
def site(db, django_user_model):
    author = django_user_model.objects.create(username="ada")  # no password: no slow hashing
    track = Track.objects.create(slug="postgresql", title="PostgreSQL", order=1)
    lesson = Lesson.objects.create(
        track=track,
        slug="vacuum",
        step=1,
        title="VACUUM and dead rows",
        body_html="<p>Dead rows.</p>",
        mode=Lesson.Mode.SQL_SANDBOX,
    )
    thread = Thread.objects.start(
        lesson=lesson, author=author, title="VACUUM FULL?", body="Ever needed it?"
    )
    page_cache.clear()
    return {"thread": thread.pk}


def csp_of(response) -> dict[str, set[str]]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        directives[name] = set(sources)
    return directives


def assert_permissions_policy(response) -> None:
    policy = {
        feature.strip(): allowed
        for feature, allowed in (
            part.split("=") for part in response["Permissions-Policy"].split(",")
        )
    }
    for feature in DENIED_FEATURES:
        assert policy[feature] == "()", feature


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
@pytest.mark.parametrize("kind", PAGES)
def test_it_sends_both_policies_on_every_kind_of_page(client, settings, site, kind, debug):
    settings.DEBUG = debug
    url, status = PAGES[kind]
    response = client.get(url.format(**site))
    if status is not None:
        assert response.status_code == status
    assert_permissions_policy(response)
    if kind == "not found" and debug:
        # With DEBUG on, a 404 is Django's own debug page, which needs its inline style and
        # script: django-csp leaves those pages (404 and 500, DEBUG only) without a policy.
        assert "Content-Security-Policy" not in response
        assert b"Django tried these URL patterns" in response.content
        return
    policy = csp_of(response)
    if kind == "lesson":
        # A lesson with a sandbox has the code editor, whose <style> carries this response's
        # nonce (templates/sandbox/_editor_assets.html); no other page sends one.
        nonce = _editor_nonce(response)
        assert policy.pop("style-src") == {"'self'", f"'nonce-{nonce}'"}
        policy["style-src"] = EXPECTED_CSP["style-src"]
    assert policy == EXPECTED_CSP


def _editor_nonce(response) -> str:
    import re

    found = re.search(rb'data-style-nonce="([A-Za-z0-9+/=]{16,})"', response.content)
    assert found, "the editor's script carries no nonce"
    return found.group(1).decode()


def test_each_response_of_a_cached_lesson_page_gets_its_own_nonce(client, site):
    first, second = client.get("/learn/postgresql/vacuum/"), client.get("/learn/postgresql/vacuum/")
    assert _editor_nonce(first) != _editor_nonce(second)
    for response in (first, second):
        assert f"'nonce-{_editor_nonce(response)}'" in csp_of(response)["style-src"]


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
def test_it_sends_both_policies_with_a_sandbox_api_answer(client, settings, site, debug):
    settings.DEBUG = debug
    response = client.post("/api/sandbox/run", "not json", content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert csp_of(response) == EXPECTED_CSP
    assert_permissions_policy(response)


def test_it_sends_both_policies_on_an_htmx_fragment(client, site):
    response = client.get("/search/?q=vacuum", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"<html" not in response.content
    assert csp_of(response) == EXPECTED_CSP
    assert_permissions_policy(response)


@pytest.mark.urls("tests.outage_urls")
@pytest.mark.parametrize(("url", "status"), [("/outage/page/", 503), ("/outage/bug/", 500)])
def test_it_sends_both_policies_on_the_outage_and_error_pages(db, url, status):
    response = Client(raise_request_exception=False).get(url)
    assert response.status_code == status
    assert csp_of(response) == EXPECTED_CSP
    assert_permissions_policy(response)


def test_it_keeps_the_csrf_cookie_from_scripts(client, site):
    response = client.get("/accounts/login/")
    cookie = response.cookies["csrftoken"]
    assert cookie["httponly"] is True
    # htmx sends the token from the page instead.
    assert 'hx-headers=\'{"X-CSRFToken": "' in response.content.decode()


def test_it_tells_htmx_to_run_no_script_from_a_fragment(client, site):
    page = client.get("/").content.decode()
    assert (
        '<meta name="htmx-config" content=\'{"allowScriptTags": false, "allowEval": false, '
        '"includeIndicatorStyles": false}\'>'
    ) in page
