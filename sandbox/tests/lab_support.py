"""Fixtures shared by the lab tests (sandbox/tests/test_lab_*.py): one real lab worker per test
session (the launcher's own command: bubblewrap where installed, fork per run, OS limits, a uid
per run as root), a lab lesson on content/models/library.py and content/fixtures/library.sql."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from lessons.models import Exercise, Lesson, Track

CONTENT = Path(settings.BASE_DIR) / "content"


@pytest.fixture(scope="session")
def lab_worker():
    from sandbox.lab import launch

    folder = Path(tempfile.mkdtemp(prefix="querylab-lab-test-"))
    socket_path = folder / "worker.sock"
    log = (folder / "worker.log").open("w")
    process = launch.start_worker(socket_path, CONTENT / "models", stderr=log)
    yield socket_path
    launch.stop_worker(process)
    log.close()


@pytest.fixture
def lab_settings(sandbox_settings, lab_worker):
    sandbox_settings.LAB_WORKER_SOCKET = str(lab_worker)
    sandbox_settings.LAB_MODELS_DIR = CONTENT / "models"
    sandbox_settings.SANDBOX_FIXTURES_DIR = CONTENT / "fixtures"
    sandbox_settings.LAB_RUN_TIMEOUT_MS = 4000
    sandbox_settings.LAB_CPU_SECONDS = 1
    sandbox_settings.LAB_MAX_QUERIES = 60
    sandbox_settings.LAB_MAX_OUTPUT = 20_000
    sandbox_settings.SANDBOX_MAX_ROWS = 100
    return sandbox_settings


@pytest.fixture
def lab_track(db):
    return Track.objects.get_or_create(slug="django", defaults={"title": "Django"})[0]


@pytest.fixture
def lab_lesson(lab_track, lab_settings):
    return Lesson.objects.create(
        track=lab_track,
        slug="orm",
        step=1,
        title="The ORM",
        mode=Lesson.Mode.DJANGO_LAB,
        fixture="library.sql",
        lab_models="library",
    )


@pytest.fixture
def lab_client(learner):
    client = Client()
    client.force_login(learner)
    return client


def lab_run(client: Client, lesson: Lesson, code: str, status: int = 200) -> dict:
    response = client.post(
        "/api/lab/run", {"lesson": lesson.ref, "code": code}, content_type="application/json"
    )
    assert response.status_code == status, response.content
    return response.json()


def lab_check(client: Client, exercise: Exercise, code: str, status: int = 200) -> dict:
    response = client.post(
        "/api/lab/check",
        {"lesson": exercise.lesson.ref, "exercise": exercise.key, "code": code},
        content_type="application/json",
    )
    assert response.status_code == status, response.content
    return response.json()
