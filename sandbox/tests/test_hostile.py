"""Hostile learner SQL, each with the safe outcome it must get: refused with a reason, denied by
the database's privileges, cancelled by a named limit, or capped. After every one, the same
learner and another learner can still run an ordinary query, and the app's data is untouched."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import User

from lessons.models import Lesson
from sandbox import connections, runner
from sandbox.models import Sandbox
from sandbox.tests.conftest import learner_id, run_json

REFUSED = "refused"  # the parser's courtesy: "Not allowed in the sandbox: … — why"
DENIED = "denied"  # the wall: PostgreSQL's own privileges
ERROR = "error"  # some other error PostgreSQL raises
CANCELLED = "cancelled"  # a time limit, named
CAPPED = "capped"  # ok, but truncated
HARMLESS = "harmless"  # runs, and PostgreSQL says why it did nothing

PLPGSQL = "plpgsql"

# (id, lesson, sql, outcome, what the message must say)
CASES = [
    # -- privilege escalation ----------------------------------------------------------------
    ("superuser", None, "ALTER ROLE CURRENT_USER SUPERUSER", REFUSED, "ALTER ROLE"),
    ("create-role", None, "CREATE ROLE evil SUPERUSER LOGIN", REFUSED, "CREATE ROLE"),
    ("set-role", None, "SET ROLE postgres", REFUSED, "SET role"),
    ("session-auth", None, "SET SESSION AUTHORIZATION postgres", REFUSED, "session_authorization"),
    ("grant", None, "GRANT SELECT ON items TO PUBLIC", REFUSED, "GRANT"),
    ("password", None, "ALTER ROLE CURRENT_USER PASSWORD 'mine'", REFUSED, "ALTER ROLE"),
    ("alter-system", None, "ALTER SYSTEM SET fsync = off", REFUSED, "ALTER SYSTEM"),
    (
        "set-config",
        None,
        "SELECT set_config('statement_timeout', '0', false)",
        DENIED,
        "set_config",
    ),
    (
        "pg-settings",
        None,
        "UPDATE pg_settings SET setting = '0' WHERE name = 'statement_timeout'",
        DENIED,
        "pg_settings",
    ),
    ("owner-to", None, "ALTER TABLE items OWNER TO postgres", DENIED, ""),
    ("reload-conf", None, "SELECT pg_reload_conf()", DENIED, "pg_reload_conf"),
    ("load", None, "LOAD 'plpgsql'", REFUSED, "LOAD"),
    ("extension", None, "CREATE EXTENSION dblink", REFUSED, "CREATE EXTENSION"),
    (
        "default-privileges",
        None,
        "ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO PUBLIC",
        REFUSED,
        "privileges",
    ),  # noqa: E501
    (
        "plpgsql-superuser",
        PLPGSQL,
        "DO $$BEGIN EXECUTE format('ALTER ROLE %I SUPERUSER', current_user); END$$",
        DENIED,
        "",  # the wording differs between PostgreSQL versions; the SQLSTATE does not
    ),
    (
        "plpgsql-set-role",
        PLPGSQL,
        "DO $$BEGIN EXECUTE 'SET ROLE postgres'; END$$",
        DENIED,
        "",  # the wording differs between PostgreSQL versions; the SQLSTATE does not
    ),
    (
        "plpgsql-set-config",
        PLPGSQL,
        "DO $$BEGIN PERFORM set_config('work_mem', '1GB', false); END$$",
        DENIED,
        "set_config",
    ),
    (
        "plpgsql-extension",
        PLPGSQL,
        "DO $$BEGIN EXECUTE 'CREATE EXTENSION IF NOT EXISTS plpython3u'; END$$",
        ERROR,
        "",
    ),
    (
        "plpgsql-temp-file-limit",
        PLPGSQL,
        "DO $$BEGIN EXECUTE 'SET temp_file_limit = -1'; END$$",
        DENIED,
        "temp_file_limit",
    ),
    (
        "sql-function-not-granted",
        None,
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        REFUSED,
        "sql language",
    ),  # noqa: E501
    ("do-not-granted", None, "DO $$BEGIN NULL; END$$", REFUSED, "plpgsql"),
    # -- reading others' or the app's data --------------------------------------------------
    ("app-table", None, "SELECT * FROM auth_user", ERROR, "does not exist"),
    ("app-table-qualified", None, "SELECT * FROM public.auth_user", ERROR, ""),
    ("public-schema", None, "CREATE TABLE public.mine (a int)", DENIED, "schema public"),
    ("pg-authid", None, "SELECT rolpassword FROM pg_authid", DENIED, "pg_authid"),
    ("pg-shadow", None, "SELECT * FROM pg_shadow", DENIED, "pg_shadow"),
    ("stat-activity", None, "SELECT query FROM pg_stat_activity", DENIED, "pg_stat_activity"),
    (
        "stat-activity-fn",
        None,
        "SELECT * FROM pg_stat_get_activity(NULL)",
        DENIED,
        "pg_stat_get_activity",
    ),  # noqa: E501
    ("locks", None, "SELECT * FROM pg_locks", DENIED, "pg_locks"),
    ("search-path", None, "SET search_path = public", REFUSED, "search_path"),
    (
        "query-to-xml",
        None,
        "SELECT query_to_xml('SELECT 1', true, true, '')",
        DENIED,
        "query_to_xml",
    ),  # noqa: E501
    ("ts-stat", None, "SELECT * FROM ts_stat('SELECT 1')", DENIED, "ts_stat"),
    ("database-to-xml", None, "SELECT database_to_xml(true, true, '')", DENIED, "database_to_xml"),
    (
        "dblink",
        None,
        "SELECT * FROM dblink('host=127.0.0.1', 'SELECT 1') AS t(a int)",
        ERROR,
        "does not exist",
    ),  # noqa: E501
    # -- file system and network --------------------------------------------------------------
    ("copy-from-file", None, "COPY items FROM '/etc/passwd'", REFUSED, "COPY"),
    ("copy-to-program", None, "COPY items TO PROGRAM 'id'", REFUSED, "COPY"),
    ("read-file", None, "SELECT pg_read_file('/etc/passwd')", DENIED, "pg_read_file"),
    ("ls-dir", None, "SELECT pg_ls_dir('.')", DENIED, "pg_ls_dir"),
    ("stat-file", None, "SELECT pg_stat_file('postgresql.conf')", DENIED, "pg_stat_file"),
    ("lo-import", None, "SELECT lo_import('/etc/passwd')", DENIED, "lo_import"),
    (
        "lo-create",
        None,
        "SELECT lo_from_bytea(0, 'kept after DROP SCHEMA')",
        DENIED,
        "lo_from_bytea",
    ),  # noqa: E501
    ("tablespace", None, "CREATE TABLESPACE mine LOCATION '/tmp'", REFUSED, "TABLESPACE"),
    (
        "plpgsql-copy",
        PLPGSQL,
        "DO $$BEGIN EXECUTE 'COPY (SELECT 1) TO ''/tmp/querylab-owned'''; END$$",
        DENIED,
        "",  # the wording differs between PostgreSQL versions; the SQLSTATE does not
    ),
    (
        "foreign-server",
        None,
        "CREATE SERVER other FOREIGN DATA WRAPPER postgres_fdw",
        REFUSED,
        "network",
    ),  # noqa: E501
    (
        "subscription",
        None,
        "CREATE SUBSCRIPTION s CONNECTION 'host=127.0.0.1' PUBLICATION p",
        REFUSED,
        "replication",
    ),  # noqa: E501
    # -- escaping the transaction or the session ---------------------------------------------
    ("prepare-transaction", None, "BEGIN; PREPARE TRANSACTION 'kept'", REFUSED, "Two-phase"),
    ("temp-table", None, "CREATE TEMP TABLE t (a int)", REFUSED, "temporary"),
    ("select-into-temp", None, "SELECT 1 AS a INTO TEMP t", REFUSED, "temporary"),
    (
        "plpgsql-temp-table",
        PLPGSQL,
        "DO $$BEGIN EXECUTE 'CREATE TEMP TABLE t (a int)'; END$$",
        DENIED,
        "temporary",
    ),
    ("listen", None, "LISTEN everyone", REFUSED, "LISTEN"),
    ("notify", None, "NOTIFY everyone, 'hello'", REFUSED, "NOTIFY"),
    ("pg-notify", None, "SELECT pg_notify('everyone', 'hello')", DENIED, "pg_notify"),
    ("advisory-lock", None, "SELECT pg_advisory_lock(1)", DENIED, "pg_advisory_lock"),
    ("advisory-try", None, "SELECT pg_try_advisory_lock(1, 2)", DENIED, "pg_try_advisory_lock"),
    ("advisory-xact", None, "SELECT pg_advisory_xact_lock(1)", DENIED, "pg_advisory_xact_lock"),
    ("discard", None, "DISCARD ALL", REFUSED, "DISCARD"),
    ("drop-catalog", None, "DROP SCHEMA pg_catalog CASCADE", ERROR, ""),
    ("drop-owned", None, "DROP OWNED BY CURRENT_USER", REFUSED, "DROP OWNED"),
    ("create-database", None, "CREATE DATABASE mine", REFUSED, "CREATE DATABASE"),
    ("drop-database", None, "DROP DATABASE querylab", REFUSED, "DROP DATABASE"),
    ("create-schema", None, "CREATE SCHEMA mine", REFUSED, "CREATE SCHEMA"),
    ("reset-timeout", None, "RESET statement_timeout", REFUSED, "statement_timeout"),
    # -- work_mem: settable for one run, from 64kB up to SANDBOX_MAX_WORK_MEM (16MB) ----------
    ("work-mem-1tb", None, "SET work_mem = '1TB'", REFUSED, "at most '16MB'"),
    ("work-mem-17mb", None, "SET LOCAL work_mem = '17MB'", REFUSED, "at most '16MB'"),
    ("work-mem-2-31", None, "SET work_mem = 2147483648", REFUSED, "at most '16MB'"),
    ("work-mem-hex", None, "SET work_mem = '0x7fffffff'", REFUSED, "from 64kB to 16MB"),
    ("work-mem-exponent", None, "SET work_mem = 1e9", REFUSED, "from 64kB to 16MB"),
    (
        "work-mem-later-in-the-run",
        None,
        "SET work_mem = '16MB'; SELECT 1; SET work_mem = '64MB'",
        REFUSED,
        "at most '16MB'",
    ),
    (
        "work-mem-set-config",
        None,
        "SELECT set_config('work_mem', '1GB', false)",
        DENIED,
        "set_config",
    ),
    (
        "work-mem-pg-settings",
        None,
        "UPDATE pg_settings SET setting = '1GB' WHERE name = 'work_mem'",
        DENIED,
        "pg_settings",
    ),
    (
        "work-mem-function-clause",
        PLPGSQL,
        "CREATE FUNCTION big() RETURNS int LANGUAGE plpgsql SET work_mem = '1GB' "
        "AS $$BEGIN RETURN 1; END$$",
        REFUSED,
        "at most '16MB'",
    ),
    (
        "timeout-function-clause",
        PLPGSQL,
        "CREATE FUNCTION slow() RETURNS int LANGUAGE plpgsql SET statement_timeout = 0 "
        "AS $$BEGIN PERFORM pg_sleep(60); RETURN 1; END$$",
        REFUSED,
        "statement_timeout",
    ),
    (
        "set-local-timeout",
        None,
        "BEGIN; SET LOCAL statement_timeout = 0",
        REFUSED,
        "statement_timeout",
    ),  # noqa: E501
    (
        "comment-hidden-set",
        None,
        "/* harmless */ SELECT 1; SET lock_timeout = 0",
        REFUSED,
        "lock_timeout",
    ),  # noqa: E501
    # -- resource exhaustion -----------------------------------------------------------------
    ("sleep", None, "SELECT pg_sleep(60)", CANCELLED, "Statement timeout"),
    (
        "endless-recursive-cte",
        None,
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT max(n) FROM r",
        CANCELLED,
        "Statement timeout",
        {"SANDBOX_TEMP_FILE_LIMIT_KB": 1024 * 1024},
    ),
    (
        "endless-recursive-cte-spilling",
        None,
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT max(n) FROM r",
        ERROR,
        "Temp file limit",
    ),
    (
        "infinite-plpgsql-loop",
        PLPGSQL,
        "DO $$BEGIN LOOP END LOOP; END$$",
        CANCELLED,
        "Statement timeout",
    ),  # noqa: E501
    (
        "timeout-switched-off-in-plpgsql",
        PLPGSQL,
        "DO $$BEGIN EXECUTE 'SET statement_timeout = 0'; END$$; SELECT pg_sleep(60)",
        CANCELLED,
        "Run time limit",
    ),
    (
        "many-sleeps",
        None,
        "SELECT pg_sleep(0.8); SELECT pg_sleep(0.8); SELECT pg_sleep(0.8)",
        CANCELLED,
        "Run time limit",
    ),  # noqa: E501
    (
        "sleep-per-row",
        None,
        "SELECT pg_sleep(0.1) FROM generate_series(1, 100)",
        CANCELLED,
        "Statement timeout",
    ),  # noqa: E501
    ("endless-rows", None, "SELECT generate_series(1, 1000000000000)", CAPPED, ""),
    ("huge-value", None, "SELECT repeat('x', 20000000)", CAPPED, ""),
    ("wide-rows", None, "SELECT repeat('y', 5000) FROM generate_series(1, 1000)", CAPPED, ""),
    (
        "array-agg-spilling",
        None,
        "SELECT array_agg(g) FROM generate_series(1, 1000000000) g",
        ERROR,
        "Temp file limit",
    ),  # noqa: E501
    (
        "array-agg-memory",
        None,
        "SELECT array_agg(g) FROM (SELECT generate_series(1, 1000000000) g) s",
        CANCELLED,
        "Statement timeout",
    ),  # noqa: E501
    (
        "temp-files",
        None,
        "SELECT g FROM generate_series(1, 3000000) g ORDER BY g DESC LIMIT 1",
        ERROR,
        "Temp file limit",
    ),
    ("too-many-statements", None, "SELECT 1;" * 30, REFUSED, "Statements per run limit"),
    ("too-long", None, "SELECT '" + "x" * 6000 + "'", ERROR, "SQL text length limit"),
    ("vacuum-everything", None, "VACUUM FULL", REFUSED, "VACUUM without a table name"),
    ("checkpoint", None, "CHECKPOINT", REFUSED, "CHECKPOINT"),
    ("terminate-self", None, "SELECT pg_terminate_backend(pg_backend_pid())", ERROR, ""),
    (
        "terminate-postmaster",
        None,
        "SELECT pg_terminate_backend(1)",
        HARMLESS,
        "not a PostgreSQL backend",
    ),  # noqa: E501
    (
        "cancel-everyone",
        None,
        "SELECT pg_cancel_backend(pid) FROM generate_series(1, 5000) pid",
        HARMLESS,
        "not a PostgreSQL backend",
    ),  # noqa: E501
    (
        "disk",
        None,
        "CREATE TABLE big AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 8000) g",
        ERROR,
        "Disk limit",
    ),
]


def _lesson_for(kind: str | None, shop_lesson: Lesson, plpgsql_lesson: Lesson) -> Lesson:
    return plpgsql_lesson if kind == PLPGSQL else shop_lesson


def _app_state() -> tuple:
    return (
        list(User.objects.order_by("pk").values_list("pk", "username", "password")),
        list(Lesson.objects.order_by("pk").values_list("pk", "slug", "fixture")),
    )


@pytest.mark.parametrize(
    ("kind", "sql", "outcome", "says", "overrides"),
    [(*case[1:5], case[5] if len(case) > 5 else {}) for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_it_survives_hostile_sql(
    client, other_client, shop_lesson, plpgsql_lesson, kind, sql, outcome, says, overrides, settings
):
    for name, value in overrides.items():
        setattr(settings, name, value)
    lesson = _lesson_for(kind, shop_lesson, plpgsql_lesson)
    run_json(other_client, lesson, "SELECT count(*) FROM items")
    run_json(client, lesson, "SELECT 1")
    before = _app_state()

    started = time.monotonic()
    body = run_json(client, lesson, sql)
    took = time.monotonic() - started

    if outcome == HARMLESS:
        assert body["ok"] is True
        assert any(says in notice for notice in body["notices"]), body["notices"]
    elif outcome == CAPPED:
        assert body["ok"] is True
        assert body["results"][-1]["truncated"] is True
        assert len(body["results"][-1]["rows"]) <= settings.SANDBOX_MAX_ROWS
    else:
        assert body["ok"] is False, body
        message = body["error"]["message"]
        assert says.lower() in message.lower(), message
        if outcome == REFUSED:
            assert message.startswith("Not allowed in the sandbox") or "limit" in message
        elif outcome == DENIED:
            assert body["error"]["sqlstate"] == "42501", body["error"]
        elif outcome == CANCELLED:
            assert body["error"]["sqlstate"] == "57014"
            # Back within the limit that stopped it, plus one second.
            if "Statement timeout" in message:
                assert took < settings.SANDBOX_STATEMENT_TIMEOUT_MS / 1000 + 1, took
            else:
                assert took < settings.SANDBOX_RUN_TIMEOUT_MS / 1000 + 1, took

    # Afterwards: the same learner, another learner, and the app are all fine.
    assert run_json(client, lesson, "SELECT count(*) FROM items")["results"][0]["rows"] == [[2000]]
    assert run_json(other_client, lesson, "SELECT count(*) FROM items")["ok"] is True
    assert _app_state() == before


def test_it_keeps_each_learners_sandbox_out_of_the_others_reach(client, other_client, shop_lesson):
    run_json(client, shop_lesson, "CREATE TABLE secrets AS SELECT 'mine' AS s")
    run_json(other_client, shop_lesson, "SELECT 1")
    mine, theirs = (
        Sandbox.objects.get(learner__user__isnull=True),
        Sandbox.objects.get(learner__user__isnull=False),
    )
    assert mine.name != theirs.name
    for sql in (
        f"SELECT * FROM {mine.name}.secrets",
        f"SELECT * FROM {mine.name}.items",
        f"DELETE FROM {mine.name}.items",
        f"CREATE TABLE {mine.name}.planted (a int)",
    ):
        body = run_json(other_client, shop_lesson, sql)
        assert body["ok"] is False
        assert body["error"]["sqlstate"] == "42501"
        assert f"permission denied for schema {mine.name}" in body["error"]["message"]
    body = run_json(other_client, shop_lesson, "SELECT * FROM secrets")
    assert body["error"]["sqlstate"] == "42P01"
    assert run_json(client, shop_lesson, "SELECT s FROM secrets")["results"][0]["rows"] == [
        ["mine"]
    ]


def test_it_stops_a_learner_cancelling_another_learners_query(client, other_client, shop_lesson):
    run_json(client, shop_lesson, "SELECT 1")
    mine = Sandbox.objects.get(learner__user__isnull=True)
    pid = connections._idle[mine.name][-1].conn.info.backend_pid
    for function in ("pg_cancel_backend", "pg_terminate_backend"):
        body = run_json(other_client, shop_lesson, f"SELECT {function}({pid})")
        assert body["ok"] is False
        assert body["error"]["sqlstate"] == "42501"
    assert run_json(client, shop_lesson, "SELECT 1")["ok"] is True


def test_it_takes_back_a_password_changed_from_plpgsql(client, plpgsql_lesson):
    body = run_json(
        client,
        plpgsql_lesson,
        "DO $$BEGIN EXECUTE format('ALTER ROLE %I PASSWORD ''mine''', current_user); END$$",
    )
    assert body["ok"] is True
    connections.close_idle_connections()  # the next run logs in afresh
    assert run_json(client, plpgsql_lesson, "SELECT 1")["ok"] is True


def test_it_keeps_limits_a_learner_stored_on_their_role(client, plpgsql_lesson):
    run_json(
        client,
        plpgsql_lesson,
        "DO $$BEGIN EXECUTE format('ALTER ROLE %I SET statement_timeout = 0', current_user); END$$",
    )
    connections.close_idle_connections()
    started = time.monotonic()
    body = run_json(client, plpgsql_lesson, "SELECT pg_sleep(60)")
    assert time.monotonic() - started < 2
    assert "Statement timeout" in body["error"]["message"]


def test_it_resets_a_sandbox_that_grew_over_the_disk_limit(client, shop_lesson):
    body = run_json(
        client,
        shop_lesson,
        "CREATE TABLE big AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 8000) g",
    )
    assert body["error"]["sqlstate"] == "53100"
    assert "over the 5 MB limit" in body["error"]["message"]
    body = run_json(client, shop_lesson, "SELECT * FROM big")
    assert body["error"]["sqlstate"] == "42P01"


def test_it_bounds_a_statement_waiting_for_a_lock(shop_lesson, db):
    """Two runs of the same sandbox at once: the second waits at most lock_timeout."""
    import threading

    from sandbox import statements

    sandbox = Sandbox.objects.for_learner(learner_id(), shop_lesson)
    holder = threading.Thread(
        target=runner.run,
        args=(
            sandbox.server,
            sandbox.name,
            statements.split("BEGIN; LOCK TABLE items; SELECT pg_sleep(0.8); COMMIT"),
        ),
    )
    holder.start()
    time.sleep(0.2)
    outcome = runner.run(sandbox.server, sandbox.name, statements.split("SELECT * FROM items"))
    holder.join()
    assert outcome.error is not None
    assert outcome.error.sqlstate == "55P03"
    assert outcome.error.message.startswith("Lock timeout")


def test_it_escapes_html_in_everything_it_shows(client, shop_lesson):
    response = client.post(
        "/api/sandbox/run",
        {
            "lesson": shop_lesson.ref,
            "sql": "SELECT '<script>alert(1)</script>' AS \"<b>col</b>\"; "
            'SELECT * FROM "<img src=x onerror=alert(2)>"',
        },
        HTTP_HX_REQUEST="true",
    )
    page = response.content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "<b>col</b>" not in page and "&lt;b&gt;col&lt;/b&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page


SORT = (
    "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
    "SELECT g, md5(g::text) FROM generate_series(1, 100000) AS g ORDER BY 2"
)


def _sort_method(result: dict) -> str:
    return next(row[0] for row in result["rows"] if "Sort Method" in row[0]).strip()


def test_work_mem_can_rise_to_the_cap_for_one_run_only(client, shop_lesson, settings):
    # The sort writes about 5 MB of temporary files at the default work_mem (4MB), and takes
    # longer than the tests' one-second statement timeout on a busy machine.
    settings.SANDBOX_TEMP_FILE_LIMIT_KB = 16 * 1024
    settings.SANDBOX_STATEMENT_TIMEOUT_MS = 5000
    settings.SANDBOX_RUN_TIMEOUT_MS = 8000
    assert settings.SANDBOX_WORK_MEM_KB == 4096 and settings.SANDBOX_MAX_WORK_MEM == "16MB"
    body = run_json(client, shop_lesson, SORT)
    assert body["ok"] is True, body
    assert _sort_method(body["results"][0]).startswith("Sort Method: external merge  Disk:")

    body = run_json(client, shop_lesson, f"SET work_mem = '16MB'; SHOW work_mem; {SORT}")
    assert body["ok"] is True, body
    assert body["results"][1]["rows"] == [["16MB"]]
    assert _sort_method(body["results"][2]).startswith("Sort Method: quicksort  Memory:")

    # The next run starts from the sandbox's own value again …
    body = run_json(client, shop_lesson, f"SHOW work_mem; {SORT}")
    assert body["results"][0]["rows"] == [["4MB"]]
    assert "external merge" in _sort_method(body["results"][1])

    # … and SET LOCAL ends with its transaction, RESET and DEFAULT go back to that value.
    body = run_json(
        client,
        shop_lesson,
        "BEGIN; SET LOCAL work_mem = 16384; SHOW work_mem; COMMIT; SHOW work_mem; "
        "SET work_mem = '8MB'; SET work_mem = DEFAULT; SHOW work_mem; "
        "SET work_mem = '8MB'; RESET work_mem; SHOW work_mem",
    )
    shown = [result["rows"] for result in body["results"] if result.get("rows")]
    assert shown == [[["16MB"]], [["4MB"]], [["4MB"]], [["4MB"]]], body

    body = run_json(client, shop_lesson, "SET work_mem = '17MB'")
    assert body["ok"] is False
    assert "work_mem can be from 64kB to 16MB in the sandbox" in body["error"]["message"]
