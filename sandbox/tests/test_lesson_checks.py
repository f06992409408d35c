"""`manage.py content check` runs fixtures, examples and exercise solutions in a sandbox."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import override_settings

from config import settings as base_settings
from sandbox import roles

pytestmark = pytest.mark.django_db

CONTENT = Path(settings.BASE_DIR) / "content"


def copy_content(tmp_path: Path) -> Path:
    """A copy of the real content folder, to break on purpose."""
    shutil.copytree(CONTENT / "postgresql", tmp_path / "postgresql")
    shutil.copytree(CONTENT / "fixtures", tmp_path / "fixtures")
    return tmp_path


def content_check(*paths, capsys) -> tuple[str, str]:
    call_command("content", "check", *map(str, paths))
    out = capsys.readouterr()
    return out.out, out.err


def test_it_checks_real_lessons_in_a_sandbox_and_leaves_nothing_behind(capsys):
    out, _ = content_check(
        CONTENT / "postgresql" / "15-btree-indexes.md",
        CONTENT / "postgresql" / "23-functions-and-plpgsql.md",
        capsys=capsys,
    )
    assert "OK: 2 lesson(s)" in out
    assert roles.existing_names(0) == set()


def test_it_fails_with_path_and_line_when_a_solution_breaks_its_plan_check(tmp_path, capsys):
    root = copy_content(tmp_path)
    lesson = root / "postgresql" / "15-btree-indexes.md"
    text = lesson.read_text()
    # Casting the column hides it from the index: the result is right, the plan is not.
    text = text.replace(
        "  WHERE created_at >= '2026-03-01 00:00+00'\n    AND created_at <  '2026-03-02 00:00+00'",
        "  WHERE created_at::date = '2026-03-01'",
    )
    lesson.write_text(text)
    with pytest.raises(CommandError):
        content_check(lesson, capsys=capsys)
    err = capsys.readouterr().err
    line = text[: text.index("id: signups-one-day")].count("\n") + 1
    assert f"15-btree-indexes.md:{line}: exercise 'signups-one-day': the solution does not" in err
    assert "Plan: The plan must use the index users_created_at_idx" in err


def test_it_reports_a_failing_fixture_and_example(tmp_path, capsys):
    root = copy_content(tmp_path)
    (root / "fixtures" / "btree.sql").write_text("CREATE TABLE users (id int);\nSELECT 1/0;\n")
    with pytest.raises(CommandError):
        content_check(root / "postgresql" / "15-btree-indexes.md", capsys=capsys)
    err = capsys.readouterr().err
    assert "15-btree-indexes.md:12: fixture btree.sql fails: division by zero" in err


def test_it_reports_an_example_that_lists_other_learners_sandboxes(tmp_path, capsys):
    root = copy_content(tmp_path)
    lesson = root / "postgresql" / "15-btree-indexes.md"
    text = lesson.read_text()
    filtered = "  FROM pg_stat_user_indexes\n  WHERE schemaname = current_schema()\n"
    assert filtered in text
    lesson.write_text(text.replace(filtered, "  FROM pg_stat_user_indexes\n"))
    with pytest.raises(CommandError):
        content_check(lesson, capsys=capsys)
    err = capsys.readouterr().err
    line = text[: text.index("id: index-sizes")].count("\n") + 1
    assert (
        f"15-btree-indexes.md:{line}: example 'index-sizes' lists other learners' sandboxes"
    ) in err
    assert "WHERE schemaname = current_schema()" in err
    assert roles.existing_names(0) == set()


@pytest.mark.slow
def test_it_passes_every_lesson_of_the_postgresql_track(settings, capsys):
    # With the real limits, not the tests' short ones (lessons sleep, sort and spill on purpose).
    for name in (
        "SANDBOX_STATEMENT_TIMEOUT_MS",
        "SANDBOX_RUN_TIMEOUT_MS",
        "SANDBOX_TEMP_FILE_LIMIT_KB",
        "SANDBOX_MAX_ROWS",
        "SANDBOX_MAX_BYTES",
        "SANDBOX_MAX_STATEMENTS",
        "SANDBOX_DISK_LIMIT_MB",
        "SANDBOX_LOCK_TIMEOUT_MS",
        "SANDBOX_IDLE_IN_TRANSACTION_TIMEOUT_MS",
    ):
        setattr(settings, name, getattr(base_settings, name))
    out, err = content_check(CONTENT / "postgresql", capsys=capsys)
    assert "OK: 36 lesson(s) in 2 track(s)" in out, err


@pytest.mark.slow
def test_it_passes_every_lesson_of_the_django_track(settings, capsys):
    # Every django_lab lesson: the models' tables and the fixture seed, every example runs in
    # a lab worker, every exercise's solution passes Check (rows, variants, max_queries, plans).
    # Its sql_sandbox lessons run with the real limits too (lesson 17's sort spills on purpose).
    for name in (
        "SANDBOX_STATEMENT_TIMEOUT_MS",
        "SANDBOX_RUN_TIMEOUT_MS",
        "SANDBOX_TEMP_FILE_LIMIT_KB",
        "SANDBOX_MAX_ROWS",
    ):
        setattr(settings, name, getattr(base_settings, name))
    lessons = sorted((CONTENT / "django").glob("[0-9]*.md"))
    assert {
        "03-seeing-the-sql.md",
        "04-aggregation-beyond-the-basics.md",
        "05-postgresql-fields.md",
        "06-indexes-from-meta.md",
        "08-full-text-search.md",
        "09-writing-efficiently.md",
    } <= {path.name for path in lessons}
    out, err = content_check(CONTENT / "django", capsys=capsys)
    assert f"OK: {len(lessons)} lesson(s) in 2 track(s)" in out, err
    assert roles.existing_names(0) == set()


def test_it_says_when_the_sandbox_server_is_unavailable(capsys):
    nowhere = "postgresql://nobody@127.0.0.1:1/nothing"
    with override_settings(SANDBOX_DATABASE_URL=nowhere), pytest.raises(CommandError):
        content_check(CONTENT / "postgresql" / "15-btree-indexes.md", capsys=capsys)
    err = capsys.readouterr().err
    assert "15-btree-indexes.md:1: sandbox unavailable:" in err
    assert "Traceback" not in err


# -- Fixture cost (issue #21) ----------------------------------------------------------------


def test_it_prints_each_fixtures_seeding_time_and_size(capsys, settings):
    settings.SANDBOX_FIXTURE_SEED_WARN_MS = 60_000  # a loaded test machine is not the point here
    out, err = content_check(CONTENT / "postgresql" / "15-btree-indexes.md", capsys=capsys)
    assert "OK: 1 lesson(s)" in out
    note = re.search(
        r"15-btree-indexes\.md:12: note: fixture btree\.sql seeded in (\d+\.\d\d) s; "
        r"its tables and indexes take (\d+\.\d) (kB|MB)",
        out,
    )
    assert note, out
    assert "warning" not in err


def test_it_warns_about_a_slow_fixture(tmp_path, capsys, settings):
    settings.SANDBOX_FIXTURE_SEED_WARN_MS = 300
    root = copy_content(tmp_path)
    with (root / "fixtures" / "btree.sql").open("a") as fixture:
        fixture.write("\nSELECT pg_sleep(0.5);\n")
    out, err = content_check(root / "postgresql" / "15-btree-indexes.md", capsys=capsys)
    assert "OK: 1 lesson(s)" in out
    assert "15-btree-indexes.md:12: warning: fixture btree.sql seeded in" in err
    assert "over 0.3 s (SANDBOX_FIXTURE_SEED_WARN_MS)" in err
    assert "the limit is 60 s" in err


def test_it_fails_a_fixture_statement_past_the_limit_naming_the_limit(tmp_path, capsys, settings):
    settings.SANDBOX_FIXTURE_SEED_LIMIT_MS = 1000
    root = copy_content(tmp_path)
    with (root / "fixtures" / "btree.sql").open("a") as fixture:
        fixture.write("\nSELECT pg_sleep(3);\n")
    with pytest.raises(CommandError):
        content_check(root / "postgresql" / "15-btree-indexes.md", capsys=capsys)
    err = capsys.readouterr().err
    assert (
        "15-btree-indexes.md:12: fixture btree.sql fails: a statement of the fixture ran past "
        "the seeding limit of 1 s (SANDBOX_FIXTURE_SEED_LIMIT_MS) and was stopped"
    ) in err


def test_it_fails_a_fixture_whose_statements_add_up_past_the_limit(tmp_path, capsys, settings):
    settings.SANDBOX_FIXTURE_SEED_LIMIT_MS = 1000
    root = copy_content(tmp_path)
    with (root / "fixtures" / "btree.sql").open("a") as fixture:
        fixture.write("\nSELECT pg_sleep(0.6);\nSELECT pg_sleep(0.6);\n")
    with pytest.raises(CommandError):
        content_check(root / "postgresql" / "15-btree-indexes.md", capsys=capsys)
    err = capsys.readouterr().err
    # Stopped by the statement timeout (a fixture is sent as one string) or, at the latest, by
    # the wall-clock check after seeding: either way the message names the limit.
    assert "15-btree-indexes.md:12: fixture btree.sql" in err
    assert "seeding limit of 1 s (SANDBOX_FIXTURE_SEED_LIMIT_MS)" in err
