"""SANDBOX_DATABASE_URL lists several servers: each learner's sandboxes go to one of them,
consistently; new sandboxes fail over when that server is down, while sandboxes already on it
answer "unavailable"; the janitor and the warm pool work server by server. Two throwaway
embedded servers stand in for two machines."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from lessons.models import Learner, Lesson, Track
from sandbox import roles, servers
from sandbox.models import Sandbox
from sandbox.tests.conftest import TEST_SETTINGS
from tests.servers import forget_sandbox_server, throwaway_server

pytestmark = pytest.mark.slow


@pytest.fixture
def two_servers(tmp_path, settings):
    for name, value in TEST_SETTINGS.items():
        setattr(settings, name, value)
    with (
        throwaway_server(tmp_path / "a") as first,
        throwaway_server(tmp_path / "b") as second,
    ):
        settings.SANDBOX_DATABASE_URL = f"{first.url()},{second.url()}"
        yield first, second
        for server in (first, second):
            forget_sandbox_server(server.url())


@pytest.fixture
def lesson(db):
    track = Track.objects.create(slug="sql", title="SQL")
    return Lesson.objects.create(
        track=track, slug="indexes", step=1, title="Indexes", mode="sql_sandbox", fixture="shop.sql"
    )


def learners_preferring(server: int, how_many: int, django_user_model) -> list[Client]:
    """Signed-in clients of new users whose sandboxes rendezvous hashing puts on ``server``."""
    clients = []
    for n in range(64):
        user = django_user_model.objects.create_user(f"learner{server}-{n}")
        placement = servers.learner_placement(Learner.objects.for_user(user).pk)
        if servers.server_for(placement) == server:
            client = Client()
            client.force_login(user)
            clients.append(client)
            if len(clients) == how_many:
                return clients
    raise AssertionError("rendezvous hashing never chose this server")


def run(client: Client, lesson: Lesson, sql: str = "SELECT count(*) FROM items"):
    return client.post(
        "/api/sandbox/run", {"lesson": lesson.ref, "sql": sql}, content_type="application/json"
    )


def test_it_places_each_learner_on_one_server_consistently(two_servers, lesson):
    keys = [servers.learner_placement(n) for n in range(200)]
    placed = [servers.server_for(key) for key in keys]
    assert placed == [servers.server_for(key) for key in keys]
    assert 60 < placed.count(0) < 140  # spread over both

    learners = [Learner.objects.create() for _ in range(6)]
    for learner in learners:
        server = servers.server_for(servers.learner_placement(learner.pk))
        sandbox = Sandbox.objects.for_learner(learner.pk, lesson)
        assert sandbox.server == server
        assert sandbox.name in roles.existing_names(server)
        assert sandbox.name not in roles.existing_names(1 - server)


def test_it_fails_new_sandboxes_over_to_a_server_that_answers(
    two_servers, lesson, django_user_model, settings
):
    _, second = two_servers
    on_first = learners_preferring(0, 1, django_user_model)[0]
    kept, newcomer, latecomer = learners_preferring(1, 3, django_user_model)
    assert run(on_first, lesson).json()["ok"]
    assert run(kept, lesson).json()["ok"]
    assert Sandbox.objects.get(learner__user=kept.session["_auth_user_id"]).server == 1

    second.stop()

    # A sandbox already on the stopped server is unavailable, and says so.
    down = run(kept, lesson)
    assert down.status_code == 503
    assert down.json()["error"].startswith("Sandbox unavailable")
    # A new one goes to the server that answers; the other server's learners see nothing.
    assert run(newcomer, lesson).json()["ok"]
    assert Sandbox.objects.get(learner__user=newcomer.session["_auth_user_id"]).server == 0
    assert run(on_first, lesson).json()["ok"]

    # The janitor and the warm pool go on with the server that answers.
    settings.SANDBOX_WARM_POOL_SIZE = 1
    report = Sandbox.objects.sweep()
    assert report.errors == ["server 1: does not answer; skipped"]
    assert Sandbox.objects.filter(state="ready").values_list("server", flat=True).get() == 0

    second.ensure()
    time.sleep(3.1)  # how long a process waits before asking a down server again

    assert run(kept, lesson).json()["ok"]  # back where it was, with no restart
    assert run(latecomer, lesson).json()["ok"]
    assert Sandbox.objects.get(learner__user=latecomer.session["_auth_user_id"]).server == 1
    assert Sandbox.objects.sweep().errors == []
    ready = Sandbox.objects.filter(state="ready").values_list("server", flat=True)
    assert sorted(ready) == [0, 1]
