"""Provisioning under a class arriving at once: many new sandboxes made at the same moment."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from sandbox import roles, runner, servers
from sandbox.models import fixture_sql
from sandbox.statements import split

pytestmark = pytest.mark.django_db


def test_it_provisions_many_sandboxes_at_the_same_moment(shop_lesson):
    # Each provisioning grants CONNECT (and, for the fixture, languages). Granted role by role
    # those update one shared catalog row, and concurrent transactions failed with "tuple
    # concurrently updated"; memberships in the installation's groups do not collide.
    seed = fixture_sql(shop_lesson.fixture)
    names = [servers.new_sandbox_name() for _ in range(8)]

    def make(name: str) -> str:
        roles.provision(0, name, seed, ["plpgsql"])
        return name

    with ThreadPoolExecutor(len(names)) as pool:
        made = list(pool.map(make, names))
    assert made == names
    for name in names:
        outcome = runner.run(0, name, split("SELECT count(*) > 0 FROM items"))
        assert outcome.error is None
        assert outcome.results[0].rows == [[True]]


def test_a_sandbox_being_seeded_does_not_hold_up_the_next_one():
    # On PostgreSQL 16+ a GRANT of a group locks that group until commit. Were the group
    # memberships granted inside the seeding transaction, every new sandbox would wait for the
    # slowest fixture being seeded at that moment (seen under load: provisionings queued
    # behind each other for seconds, "GRANT ROLE waiting").
    slow_seed = "CREATE TABLE t (id int); SELECT pg_sleep(3);"
    started = threading.Event()

    def seed_slowly() -> None:
        started.set()
        roles.provision(0, servers.new_sandbox_name(), slow_seed, ["plpgsql"])

    slow = threading.Thread(target=seed_slowly)
    slow.start()
    try:
        started.wait(5)
        time.sleep(0.5)  # the slow one is seeding now
        began = time.monotonic()
        quick = servers.new_sandbox_name()
        roles.provision(0, quick, "CREATE TABLE t (id int);", ["plpgsql"])
        took = time.monotonic() - began
        assert slow.is_alive(), "the slow seed should still be running"
    finally:
        slow.join(30)
    assert took < 2, f"the second sandbox waited {took:.1f} s for the first one's seeding"
    assert runner.run(0, quick, split("SELECT count(*) FROM t")).error is None


def test_a_sandbox_cannot_become_its_connect_group(shop_lesson):
    name = servers.new_sandbox_name()
    roles.provision(0, name, fixture_sql(shop_lesson.fixture), [])
    url = servers.role_url(0, name)
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.info.server_version < 160000:
            pytest.skip(
                "PostgreSQL 15 has no SET option on memberships; the parser refuses SET ROLE"
            )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f'SET ROLE "{servers.group_name("connect")}"')
