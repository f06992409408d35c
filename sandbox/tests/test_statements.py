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
        ("RESET work_mem", "SET work_mem"),
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
