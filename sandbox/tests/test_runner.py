"""runner: seeding analyzes the sandbox's own tables instead of running a bare ANALYZE."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from sandbox import roles, servers

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("fixture", "kept", "stripped"),
    [
        ("CREATE TABLE a (x int);\n\nANALYZE;\n", "CREATE TABLE a (x int);\n\n", True),
        (
            "CREATE TABLE a (x int);\n-- statistics\nanalyze\n-- end\n",
            "CREATE TABLE a (x int);\n-- statistics\n",
            True,
        ),
        ("CREATE TABLE a (x int); ANALYZE a;\n", "CREATE TABLE a (x int); ANALYZE a;\n", False),
        (
            "CREATE TABLE a (x int);\nVACUUM ANALYZE;\n",
            "CREATE TABLE a (x int);\nVACUUM ANALYZE;\n",
            False,
        ),
    ],
)
def test_it_strips_only_a_trailing_bare_analyze(fixture, kept, stripped):
    assert roles.without_bare_analyze(fixture) == (kept, stripped)


def test_it_analyzes_the_sandboxs_own_tables_without_visiting_others(settings):
    other = servers.new_sandbox_name()
    roles.provision(0, other, "CREATE TABLE t (x int); INSERT INTO t VALUES (1);")
    name = servers.new_sandbox_name()
    fixture = (
        "CREATE TABLE a (x int);\nINSERT INTO a SELECT generate_series(1, 500);\n"
        "CREATE MATERIALIZED VIEW m AS SELECT x FROM a;\nANALYZE;\n"
    )
    roles.provision(0, name, fixture)
    with psycopg.connect(settings.SANDBOX_DATABASE_URL, autocommit=True) as admin:
        analyzed = dict(
            admin.execute(
                "SELECT schemaname, count(*) FILTER (WHERE last_analyze IS NOT NULL) "
                "FROM pg_stat_user_tables WHERE schemaname = ANY(%s) GROUP BY 1",
                [[name, other]],
            ).fetchall()
        )
        reltuples = admin.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [f"{name}.a"]
        ).fetchone()[0]
    assert analyzed[name] == 2 and analyzed[other] == 0  # a and m here, nothing in the other
    assert reltuples == 500


def test_learner_backends_on_the_embedded_server_run_niced_in_sessions_of_their_own(
    client, shop_lesson, settings
):
    # PostgreSQL makes each backend a session leader, and autogroup scheduling shares CPU
    # between sessions before niceness counts: a learner backend burning CPU must be niced
    # in both ways, or it takes as much CPU as the whole web server.
    from sandbox.tests.conftest import run_json

    if not settings.SANDBOX_SERVER_IS_EMBEDDED:
        pytest.skip("the sandbox server is not the embedded one")
    pid = run_json(client, shop_lesson, "SELECT pg_backend_pid()")["results"][0]["rows"][0][0]
    stat = Path(f"/proc/{pid}/stat")
    if os.geteuid() != 0 and stat.stat().st_uid != os.geteuid():
        pytest.skip("the sandbox server runs as another system user")
    assert os.getpriority(os.PRIO_PROCESS, pid) >= settings.SANDBOX_SERVER_NICE
    autogroup = Path(f"/proc/{pid}/autogroup")
    if autogroup.exists():
        assert autogroup.read_text().split()[-1] == str(settings.SANDBOX_SERVER_NICE)


def test_learner_sql_and_seeding_run_without_jit(client, shop_lesson):
    # JIT compilation cannot be interrupted, so no limit can stop a statement while it
    # compiles; on a server built with JIT (the PostgreSQL 15 service in CI is) a plan that
    # merely looks expensive compiled before its first row.
    from sandbox.tests.conftest import run_json

    body = run_json(
        client, shop_lesson, "SHOW jit; EXPLAIN SELECT generate_series(1, 1000000000000)"
    )
    assert body["ok"] is True, body
    shown, plan = body["results"]
    assert shown["rows"] == [["off"]]
    assert not any("JIT" in row[0] for row in plan["rows"]), plan["rows"]
    with servers.provisioning(0).pool.connection() as conn:
        assert conn.execute("SHOW jit").fetchone()[0] == "off"
    with servers.superuser(0) as conn:
        assert conn.execute("SHOW jit").fetchone()[0] == "off"
