"""`content check` fails on a plan check that names a table or index the fixture does not have
(a `no_seq_scan` on a misspelt table passed whatever the answer did), and on one that names a
partitioned table (plans name the partitions they read); a hidden check still tells the
instructor what failed."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db

FIXTURE = """
CREATE TABLE readings (id int NOT NULL, taken_on date NOT NULL, value int NOT NULL)
  PARTITION BY RANGE (taken_on);
CREATE TABLE readings_2026_01 PARTITION OF readings
  FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE readings_2026_02 PARTITION OF readings
  FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
CREATE INDEX readings_value_idx ON readings (value);
INSERT INTO readings
  SELECT g, date '2026-01-01' + (g % 59), g % 1000 FROM generate_series(1, 5000) g;
ANALYZE;
"""

LESSON = """---
title: Partitions
step: 1
level: advanced
mode: sql_sandbox
reviewed: 2026-12-01
version: 1
summary: Reading one month.
fixture: readings.sql
---

## One month

```exercise
id: one-month
prompt: Count February's readings.
solution: |
  SELECT count(*) FROM readings WHERE taken_on >= '2026-02-01' AND taken_on < '2026-03-01';
plan_checks:
{checks}
```
"""


def write(tmp_path: Path, checks: str) -> Path:
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "readings.sql").write_text(FIXTURE)
    track = tmp_path / "parts"
    track.mkdir()
    (track / "track.yml").write_text("title: Parts\nsummary: Partitions.\norder: 7\n")
    lesson = track / "01-partitions.md"
    lesson.write_text(LESSON.replace("{checks}", checks))
    return lesson


def check(lesson: Path, capsys) -> str:
    try:
        call_command("content", "check", str(lesson))
    except CommandError:
        return capsys.readouterr().err
    return ""


def test_a_plan_check_on_a_missing_table_or_index_is_an_error(tmp_path, capsys):
    lesson = write(
        tmp_path, "  - no_seq_scan: readings_2026_1\n  - uses_index: readings_2026_02_value\n"
    )
    err = check(lesson, capsys)
    line = LESSON.index("id: one-month")
    line = LESSON[:line].count("\n") + 1
    assert (
        f"01-partitions.md:{line}: exercise 'one-month': plan check no_seq_scan: the fixture has "
        "no table 'readings_2026_1' (its tables: readings, readings_2026_01, readings_2026_02)"
    ) in err
    assert "plan check uses_index: the fixture has no index 'readings_2026_02_value'" in err
    assert "readings_2026_02_value_idx" in err  # the indexes it has are listed


def test_a_plan_check_on_a_partitioned_table_names_its_partitions(tmp_path, capsys):
    lesson = write(tmp_path, "  - no_seq_scan: readings\n")
    err = check(lesson, capsys)
    assert (
        "plan check no_seq_scan: 'readings' is partitioned, and a plan names the partitions it "
        "reads (readings_2026_01, readings_2026_02), never 'readings'"
    ) in err


def test_checks_on_partitions_pass_and_a_hidden_one_tells_the_instructor(tmp_path, capsys):
    lesson = write(
        tmp_path,
        "  - no_seq_scan: readings_2026_02\n    hidden: true\n  - max_rows_read: 100\n",
    )
    err = check(lesson, capsys)
    # The solution reads February's partition in full (about 2,400 rows): the instructor is
    # told exactly which checks fail, hidden or not.
    assert "Plan: The plan reads all of readings_2026_02 with a Seq Scan; it must not." in err
    assert "rows of the lesson's tables; at most 100 are allowed." in err
    assert "hidden check" not in err
