"""Sandbox tests run against the real sandbox server (embedded, or SANDBOX_DATABASE_URL) with
a test-only name prefix ("qlt_…"), so they never touch development sandboxes, and drop what
they made after every test. Limits are short so the suite stays fast."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client, override_settings

from lessons.models import Learner, Lesson, Track
from sandbox import connections, roles

FIXTURES = Path(__file__).parent / "fixtures"

TEST_SETTINGS = {
    "SANDBOX_NAME_PREFIX": "qlt",
    "SANDBOX_FIXTURES_DIR": FIXTURES,
    "SANDBOX_STATEMENT_TIMEOUT_MS": 1000,
    "SANDBOX_RUN_TIMEOUT_MS": 1500,
    "SANDBOX_CANCEL_GRACE_MS": 300,
    "SANDBOX_LOCK_TIMEOUT_MS": 300,
    "SANDBOX_IDLE_IN_TRANSACTION_TIMEOUT_MS": 2000,
    "SANDBOX_TEMP_FILE_LIMIT_KB": 1024,
    "SANDBOX_MAX_ROWS": 100,
    "SANDBOX_MAX_BYTES": 100_000,
    "SANDBOX_MAX_STATEMENTS": 20,
    "SANDBOX_MAX_SQL_LENGTH": 5000,
    "SANDBOX_RUNS_PER_MINUTE": 10_000,
    "SANDBOX_DISK_LIMIT_MB": 5,
    "SANDBOX_WARM_POOL_SIZE": 0,
    "SANDBOX_REFILL_IN_BACKGROUND": False,
    # Test users need no slow password hashing.
    "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
}


@pytest.fixture(autouse=True)
def sandbox_settings(settings):
    for name, value in TEST_SETTINGS.items():
        setattr(settings, name, value)
    yield settings


@pytest.fixture(autouse=True)
def drop_test_sandboxes(sandbox_settings, django_db_blocker):
    """Whatever a test made on the sandbox server goes when it ends (the app database's rows
    are rolled back by pytest-django; the server's roles and schemas are not)."""
    yield
    with django_db_blocker.unblock():
        connections.close_idle_connections()
        names = sorted(roles.existing_names(0))
        for start in range(0, len(names), 200):
            roles.drop(0, names[start : start + 200])


@pytest.fixture(scope="session", autouse=True)
def remove_test_provisioner(django_db_setup, django_db_blocker):
    yield
    with django_db_blocker.unblock(), override_settings(**TEST_SETTINGS):
        roles.remove_installation(0)


@pytest.fixture
def track(db):
    return Track.objects.create(slug="sql", title="SQL")


@pytest.fixture
def shop_lesson(track):
    return Lesson.objects.create(
        track=track,
        slug="indexes",
        step=1,
        title="Indexes",
        mode=Lesson.Mode.SQL_SANDBOX,
        fixture="shop.sql",
    )


@pytest.fixture
def plpgsql_lesson(track):
    return Lesson.objects.create(
        track=track,
        slug="functions",
        step=2,
        title="Functions",
        mode=Lesson.Mode.SQL_SANDBOX,
        fixture="shop.sql",
        sandbox_languages=["plpgsql"],
    )


@pytest.fixture
def empty_lesson(track):
    return Lesson.objects.create(
        track=track, slug="empty", step=3, title="Empty", mode=Lesson.Mode.SQL_SANDBOX
    )


@pytest.fixture
def reading_lesson(track):
    return Lesson.objects.create(track=track, slug="reading", step=4, title="Reading")


@pytest.fixture
def other_client(other_learner):
    client = Client()
    client.force_login(other_learner)
    return client


def learner_id(user=None) -> int:
    """A Learner row's id: the user's (made on first use), or a new signed-out visitor's."""
    return Learner.objects.for_user(user).pk if user else Learner.objects.create().pk


def api(client: Client, action: str, lesson: Lesson | str, sql: str | None = None, **extra):
    """POST to the sandbox API like a JSON client; returns the response."""
    body = {"lesson": lesson if isinstance(lesson, str) else lesson.ref}
    if sql is not None:
        body["sql"] = sql
    return client.post(f"/api/sandbox/{action}", body, content_type="application/json", **extra)


def run_json(client: Client, lesson: Lesson, sql: str) -> dict:
    response = api(client, "run", lesson, sql)
    assert response.status_code == 200, response.content
    return response.json()
