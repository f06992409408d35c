"""Shared snapshots: made from a result or a plan, opened by anyone without an account, deleted
or kept by their owner only, expired by the janitor, rate limited and size-bounded."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from html import unescape

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from sandbox.models import Share
from sandbox.tests.conftest import api, run_json

QUERY = "SELECT id, note FROM items WHERE id IN (9, 10) ORDER BY id"


def share(client: Client, body: dict, **extra):
    return client.post("/api/sandbox/share", body, content_type="application/json", **extra)


def share_result(client: Client, lesson, sql: str = QUERY) -> dict:
    results = run_json(client, lesson, sql)["results"]
    response = share(
        client, {"lesson": lesson.ref, "kind": "result", "sql": sql, "results": results}
    )
    assert response.status_code == 200, response.content
    return response.json()


def path_of(url: str) -> str:
    return url.removeprefix("http://testserver")


def test_it_shares_a_result_that_anyone_can_open(client, shop_lesson):
    made = share_result(client, shop_lesson)
    assert made["ok"] is True and "/s/" in made["url"]
    page = Client().get(path_of(made["url"]))  # no account, no session
    html = page.content.decode()
    assert page.status_code == 200
    assert "<td>9</td><td>n9</td>" in html and '<td class="sandbox-null">NULL</td>' in html
    assert "SELECT id, note FROM items WHERE id IN (9, 10) ORDER BY id" in html
    assert "Delete this snapshot" not in html
    assert page["X-Robots-Tag"] == "noindex"


def test_its_link_is_unguessable(client, shop_lesson):
    first = share_result(client, shop_lesson)["url"].rstrip("/").rsplit("/", 1)[1]
    second = share_result(client, shop_lesson)["url"].rstrip("/").rsplit("/", 1)[1]
    assert first != second and len(first) >= 32
    assert (
        Client().get("/s/" + first[:-1] + ("A" if first[-1] != "A" else "B") + "/").status_code
        == 404
    )


def test_it_shares_a_plan_with_its_advice(client, shop_lesson):
    sql = "SELECT * FROM items WHERE name = 'item 7'"
    plan_id = api(client, "explain", shop_lesson, sql).json()["plan_id"]
    made = share(client, {"lesson": shop_lesson.ref, "kind": "plan", "plan_id": plan_id}).json()
    html = Client().get(path_of(made["url"])).content.decode()
    assert 'class="plan-tree"' in html and "Seq Scan" in html
    assert "What to try" in html and "CREATE INDEX ON items (name);" in html
    assert "SELECT * FROM items WHERE name = &#x27;item 7&#x27;" in html


def test_only_the_owner_plans_can_be_shared(client, other_client, shop_lesson):
    plan_id = api(client, "explain", shop_lesson, "SELECT 1").json()["plan_id"]
    body = {"lesson": shop_lesson.ref, "kind": "plan", "plan_id": plan_id}
    response = share(other_client, body)
    assert response.status_code == 400
    assert response.json()["error"] == '"plan_id" must be one of your recent plans.'


def test_it_never_shows_who_shared_it(learner, shop_lesson):
    owner = Client()
    owner.force_login(learner)
    made = share_result(owner, shop_lesson)
    html = Client().get(path_of(made["url"])).content.decode()
    assert learner.username not in html and learner.email not in html
    own = owner.get(path_of(made["url"])).content.decode()
    assert "Delete this snapshot" in own and "Keep it" in own


def test_only_the_owner_deletes_it_and_then_it_is_gone(client, other_client, shop_lesson):
    made = share_result(client, shop_lesson)
    path = path_of(made["url"])
    assert other_client.post(path + "delete").status_code == 403
    assert Client().post(path + "delete").status_code == 403
    assert Client().get(path).status_code == 200
    response = client.post(path + "delete")
    assert response.status_code == 302
    assert Client().get(path).status_code == 404


def test_deleting_needs_the_csrf_token(client, shop_lesson):
    made = share_result(client, shop_lesson)
    session = client.cookies["sessionid"].value
    strict = Client(enforce_csrf_checks=True)
    strict.cookies["sessionid"] = session
    assert strict.post(path_of(made["url"]) + "delete").status_code == 403
    assert Share.objects.count() == 1


def test_a_visitor_can_delete_their_own_but_not_keep_it(client, shop_lesson):
    made = share_result(client, shop_lesson)  # signed out: a visitor's session
    path = path_of(made["url"])
    assert "Keep it" not in client.get(path).content.decode()
    assert client.post(path + "keep").status_code == 403
    assert client.post(path + "delete").status_code == 302


def test_a_visitor_who_signs_in_still_owns_what_they_shared(client, learner, shop_lesson):
    made = share_result(client, shop_lesson)
    client.login(username="ada", password="correct-horse-42")
    own = client.get(path_of(made["url"])).content.decode()
    assert "Delete this snapshot" in own and "Keep it" in own
    assert client.post(path_of(made["url"]) + "keep").status_code == 302
    assert Share.objects.get().kept


def test_it_expires_unless_a_signed_in_owner_keeps_it(learner, shop_lesson, settings):
    settings.SANDBOX_SHARE_EXPIRY_DAYS = 7
    owner = Client()
    owner.force_login(learner)
    kept, lapsing = share_result(owner, shop_lesson), share_result(owner, shop_lesson)
    share_row = Share.objects.get(token=lapsing["url"].rstrip("/").rsplit("/", 1)[1])
    assert share_row.expires_at > timezone.now() + timedelta(days=6, hours=23)
    assert owner.post(path_of(kept["url"]) + "keep").status_code == 302
    Share.objects.filter(expires_at__isnull=False).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert Client().get(path_of(lapsing["url"])).status_code == 404  # at once, janitor or not
    call_command("sandbox", "janitor", stdout=(out := io.StringIO()))
    assert "1 expired shared snapshot(s)" in out.getvalue()
    assert Share.objects.count() == 1
    assert Client().get(path_of(kept["url"])).status_code == 200


def test_a_kept_snapshot_goes_with_its_owners_account(learner, shop_lesson):
    owner = Client()
    owner.force_login(learner)
    made = share_result(owner, shop_lesson)
    owner.post(path_of(made["url"]) + "keep")
    learner.delete()
    assert Client().get(path_of(made["url"])).status_code == 404
    call_command("sandbox", "janitor", stdout=io.StringIO())
    assert Share.objects.count() == 0


def test_it_is_rate_limited(client, shop_lesson, settings):
    settings.SANDBOX_SHARES_PER_HOUR = 2
    share_result(client, shop_lesson)
    share_result(client, shop_lesson)
    results = run_json(client, shop_lesson, "SELECT 1")["results"]
    body = {"lesson": shop_lesson.ref, "kind": "result", "sql": "SELECT 1", "results": results}
    response = share(client, body)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 3000
    assert "at most 2 snapshots an hour" in response.json()["error"]


def test_a_huge_result_is_shortened_as_shown(client, shop_lesson, settings):
    settings.SANDBOX_SHARE_MAX_BYTES = 1000
    made = share_result(client, shop_lesson, "SELECT id, name FROM items ORDER BY id LIMIT 100")
    stored = Share.objects.get().snapshot["results"][0]
    assert 0 < len(stored["rows"]) < 100 and stored["shortened"] and stored["truncated"]
    assert len(json.dumps(Share.objects.get().snapshot)) <= 1000
    html = Client().get(path_of(made["url"])).content.decode()
    assert f"Shortened for sharing: only the first {len(stored['rows'])} rows" in html


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "result", "sql": "x", "results": []}, "non-empty list"),
        (
            {"kind": "result", "sql": "x", "results": [{"columns": ["a"], "types": []}]},
            "one length",
        ),
        (
            {
                "kind": "result",
                "sql": "x",
                "results": [{"columns": ["a"], "types": ["int"], "rows": [[{"html": 1}]]}],
            },
            "plain values",
        ),
        ({"kind": "result", "sql": "x", "results": "{not json"}, "not valid JSON"),
        ({"kind": "nonsense"}, '"kind" must be'),
        ({"kind": "plan", "plan_id": "x"}, '"plan_id"'),
    ],
)
def test_bad_requests_get_a_clear_message(client, shop_lesson, body, message):
    response = share(client, {"lesson": shop_lesson.ref, **body})
    assert response.status_code == 400 and message in response.json()["error"]


def test_the_share_buttons_answer_with_the_link_for_htmx(client, shop_lesson):
    html = api(client, "run", shop_lesson, QUERY, HTTP_HX_REQUEST="true").content.decode()
    assert "Share this result" in html and 'name="results"' in html
    results = run_json(client, shop_lesson, QUERY)["results"]
    body = {
        "lesson": shop_lesson.ref,
        "kind": "result",
        "sql": QUERY,
        "results": json.dumps(results),
    }
    answer = client.post("/api/sandbox/share", body, HTTP_HX_REQUEST="true").content.decode()
    assert "Anyone with this link can see it" in answer and 'class="share-link"' in answer


def test_the_share_form_carries_at_most_a_snapshot_of_a_large_result(client, shop_lesson, settings):
    settings.SANDBOX_SHARE_MAX_BYTES = 1000
    sql = "SELECT id, name FROM items ORDER BY id LIMIT 100"
    html = api(client, "run", shop_lesson, sql, HTTP_HX_REQUEST="true").content.decode()
    assert html.count("<tr>") == 101  # the page still shows every row
    field = re.search(r'name="results" value="([^"]*)"', html).group(1)
    results = json.loads(unescape(field))
    assert len(json.dumps(results)) <= 1000 and results[0]["shortened"]
    body = {"lesson": shop_lesson.ref, "kind": "result", "sql": sql, "results": unescape(field)}
    made = client.post("/api/sandbox/share", body).json()  # as the form posts it
    page = Client().get(path_of(made["url"])).content.decode()
    assert "Shortened for sharing" in page
