"""The backup commands the README documents restore a dump into an empty database, with the
learners' accounts and data in it."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from config.infra.embedded import _binaries

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def url_for(database: str) -> str:
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgresql://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{database}"


def client_tools() -> Path:
    """pg_dump/pg_restore of the server's major version, as the README advises: a newer
    pg_restore writes settings (transaction_timeout, PostgreSQL 17+) that older servers reject."""
    major = connection.cursor().connection.info.server_version // 10000
    system = Path(f"/usr/lib/postgresql/{major}/bin")
    if (system / "pg_restore").exists():
        return system
    return _binaries()


@pytest.fixture
def empty_database():
    name = f"querylab_restore_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url_for("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(url_for("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_a_dump_restores_into_an_empty_database(tmp_path, learner, empty_database):
    from lessons.models import Lesson, Track

    track = Track.objects.create(slug="postgresql", title="PostgreSQL")
    Lesson.objects.create(track=track, slug="joins", step=6, title="Joins")
    dump = tmp_path / "querylab.dump"
    tools = client_tools()

    # The commands from the README's "Backups" section.
    subprocess.run(
        [
            str(tools / "pg_dump"),
            "--format=custom",
            f"--file={dump}",
            url_for(connection.settings_dict["NAME"]),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    subprocess.run(
        [
            str(tools / "pg_restore"),
            "--no-owner",
            "--exit-on-error",
            f"--dbname={url_for(empty_database)}",
            str(dump),
        ],
        check=True,
        capture_output=True,
        text=True,
    )

    with psycopg.connect(url_for(empty_database)) as conn:
        users = conn.execute("SELECT username, email FROM auth_user").fetchall()
        lessons = conn.execute(
            "SELECT t.slug, l.slug FROM lessons_lesson l JOIN lessons_track t ON t.id = l.track_id"
        ).fetchall()
    assert users == [("ada", "ada@example.com")]
    assert lessons == [("postgresql", "joins")]
