from __future__ import annotations

import pytest

from sandbox import statements


def test_it_splits_statements_keeping_the_learners_text():
    parsed = statements.split("SELECT 'é';\n -- next\n  INSERT INTO t VALUES (1) RETURNING *;")
    assert [s.text for s in parsed] == ["SELECT 'é'", "INSERT INTO t VALUES (1) RETURNING *"]
    assert parsed[1].offset == len("SELECT 'é';\n -- next\n  ")
    assert parsed[0].returns_rows and parsed[1].returns_rows and parsed[1].modifies_data


def test_it_reports_syntax_errors_with_a_position():
    with pytest.raises(statements.SyntaxProblem) as caught:
        statements.split("SELECT 1;\nSELEC 2")
    assert caught.value.position == len("SELECT 1;\n") + 1
    assert "syntax error" in caught.value.message


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("SET statement_timeout = 0", "SET statement_timeout"),
        ("RESET lock_timeout", "SET lock_timeout"),
        ("COPY t FROM '/etc/passwd'", "COPY"),
        ("CREATE EXTENSION dblink", "CREATE EXTENSION"),
        ("LISTEN x", "LISTEN"),
        ("ALTER ROLE CURRENT_USER SUPERUSER", "ALTER ROLE"),
        ("DO $$BEGIN END$$", "plpgsql"),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", "sql language"),
        ("PREPARE TRANSACTION 'x'", "Two-phase commit"),
        ("VACUUM", "VACUUM without a table name"),
        ("CREATE TEMP TABLE x (a int)", "temporary table"),
        ("SELECT 1 INTO TEMP x", "temporary table"),
        ("CREATE SCHEMA mine", "CREATE SCHEMA"),
    ],
)
def test_it_refuses_what_has_no_place_in_a_sandbox(sql, says):
    with pytest.raises(statements.StatementRefused) as caught:
        statements.split(sql)
    assert says.lower() in caught.value.message.lower()
    assert caught.value.message.startswith("Not allowed in the sandbox")


def test_it_allows_planner_settings_and_granted_languages():
    assert statements.split("SET enable_seqscan = off")[0].kind == "VariableSetStmt"
    assert statements.split("DO $$BEGIN END$$", languages=["plpgsql"])[0].kind == "DoStmt"


def test_it_caps_statements_per_run():
    with pytest.raises(statements.StatementRefused) as caught:
        statements.split("SELECT 1;" * 6, max_statements=5)
    assert "Statements per run limit" in caught.value.message


@pytest.mark.parametrize(
    "sql",
    [
        "SET work_mem = '16MB'",
        "SET work_mem TO '8 MB'",
        "SET LOCAL work_mem = '64kB'",
        "SET SESSION work_mem = 16384",  # a bare number is kB
        "SET work_mem = '0.5MB'",
        "SET work_mem = '16777216B'",
        "SET work_mem = DEFAULT",
        "RESET work_mem",
        "SET WORK_MEM = '1MB'",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET work_mem = '8MB' AS 'SELECT 1'",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = pg_catalog AS 'SELECT 1'",
        "ALTER FUNCTION f() RESET ALL",
    ],
)
def test_it_allows_work_mem_up_to_the_cap(sql, settings):
    settings.SANDBOX_MAX_WORK_MEM = "16MB"
    assert len(statements.split(sql, languages=["sql"])) == 1


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("SET work_mem = '1TB'", "SET work_mem above 16MB"),
        ("SET work_mem = '17MB'", "SET work_mem above 16MB"),
        ("SET LOCAL work_mem = '1GB'", "at most '16MB'"),
        ("SET work_mem = 16385", "SET work_mem above 16MB"),
        ("SET work_mem = 2147483648", "SET work_mem above 16MB"),  # 2^31: a Float node
        ("SET work_mem = '16384.5kB'", "SET work_mem above 16MB"),
        ("SET \"Work_Mem\" = '1GB'", "SET work_mem above 16MB"),
        ("SET work_mem = 63", "below 64kB"),
        ("SET work_mem = -1", "below 64kB"),
        ("SET work_mem = '0'", "below 64kB"),
        # Not a plain literal read the way PostgreSQL reads it: refused, naming the bounds.
        ("SET work_mem = 1e4", "from 64kB to 16MB"),
        ("SET work_mem = '1e10'", "from 64kB to 16MB"),
        ("SET work_mem = '0x4000'", "from 64kB to 16MB"),  # hex, as PostgreSQL reads it
        ("SET work_mem = '010'", "from 64kB to 16MB"),  # octal, as PostgreSQL reads it
        ("SET work_mem = '16mb'", "from 64kB to 16MB"),  # units are case-sensitive
        ("SET work_mem = '1PB'", "from 64kB to 16MB"),
        ("SET work_mem = on", "from 64kB to 16MB"),
        ("SET work_mem = '1MB', '2MB'", "from 64kB to 16MB"),
        # A function's own SET clause obeys the same rules, for every call.
        (
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET work_mem = '1GB' AS 'SELECT 1'",
            "SET work_mem above 16MB",
        ),
        ("ALTER FUNCTION f() SET work_mem = '1GB'", "SET work_mem above 16MB"),
        ("ALTER FUNCTION f() SET statement_timeout = 0", "SET statement_timeout"),
        (
            "CREATE PROCEDURE p() LANGUAGE sql SET lock_timeout = 0 AS 'SELECT 1'",
            "SET lock_timeout",
        ),
    ],
)
def test_it_refuses_work_mem_over_the_cap_or_not_a_literal(sql, says, settings):
    settings.SANDBOX_MAX_WORK_MEM = "16MB"
    with pytest.raises(statements.StatementRefused) as caught:
        statements.split(sql, languages=["sql"])
    assert caught.value.message.startswith("Not allowed in the sandbox")
    assert says in caught.value.message


def test_the_work_mem_cap_is_a_setting(settings):
    settings.SANDBOX_MAX_WORK_MEM = "16MB"
    statements.split("SET work_mem = '8MB'")  # cached as allowed under this cap …
    settings.SANDBOX_MAX_WORK_MEM = "4MB"
    with pytest.raises(statements.StatementRefused) as caught:  # … and not under a lower one
        statements.split("SET work_mem = '8MB'")
    assert "from 64kB to 4MB" in caught.value.message
    assert statements.split("SET work_mem = '8MB'", max_work_mem="8192kB")


@pytest.mark.parametrize("cap", ["lots", "32kB", "-1", ""])
def test_it_refuses_a_cap_that_is_not_an_amount_of_memory(cap):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        statements.split("SELECT 1", max_work_mem=cap)


def test_it_reads_memory_as_postgresql_does():
    assert statements.memory_kb("16MB") == 16384
    assert statements.memory_kb(" 2 GB ") == 2 * 1024 * 1024
    assert statements.memory_kb("1536") == 1536
    assert statements.memory_kb("1.5MB") == 1536
    assert statements.memory_kb(4096) == 4096
    assert statements.memory_kb("4 MiB") is None
