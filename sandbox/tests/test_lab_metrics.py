# ruff: noqa: F811 (pytest fixtures imported from lab_support are arguments here)
"""Lab runs in /metrics and the run log, as SQL runs are (test_metrics.py, test_run_log.py):
counted with kind="lab" and the bounds they hit; one log line per run, never the code."""

from __future__ import annotations

import json
import logging

from django.test import Client

from sandbox.tests.lab_support import (  # noqa: F401
    lab_client,
    lab_lesson,
    lab_run,
    lab_settings,
    lab_track,
    lab_worker,
)
from sandbox.tests.test_metrics import metrics_on, scrape  # noqa: F401
from sandbox.tests.test_run_log import run_lines


def test_lab_runs_and_their_bounds_are_counted(lab_client, lab_lesson, metrics_on):
    # Counters live as long as the process: other tests counted before this one.
    before = scrape(Client())
    assert lab_run(lab_client, lab_lesson, "Author.objects.count()")["ok"]
    capped = lab_run(lab_client, lab_lesson, "while True:\n    Book.objects.count()")
    assert capped["bound"] == "statements"
    slow = lab_run(lab_client, lab_lesson, 'list(Book.objects.raw("SELECT 1 AS id, pg_sleep(3)"))')
    assert slow["bound"] == "statement_timeout", slow["error"]
    assert lab_run(lab_client, lab_lesson, "Book.objects.all()")["result"]["truncated"]

    samples = scrape(Client())

    def added(name: str) -> float:
        return samples.get(name, 0) - before.get(name, 0)

    assert added('querylab_sandbox_runs_total{kind="lab"}') == 4
    assert added('querylab_sandbox_runs_total{kind="run"}') == 0
    assert added('querylab_sandbox_bounds_hit_total{bound="statements"}') == 1
    assert added('querylab_sandbox_bounds_hit_total{bound="statement_timeout"}') == 1
    assert added('querylab_sandbox_timeouts_total{bound="statement_timeout"}') == 1
    assert added('querylab_sandbox_bounds_hit_total{bound="rows"}') == 1


def test_a_run_past_the_wall_clock_counts_as_a_timeout(lab_client, lab_lesson, metrics_on):
    before = scrape(Client())
    code = 'for i in range(10):\n    list(Book.objects.raw("SELECT 1 AS id, pg_sleep(0.9)"))'
    assert lab_run(lab_client, lab_lesson, code)["bound"] == "wall_clock"
    samples = scrape(Client())
    name = 'querylab_sandbox_timeouts_total{bound="wall_clock"}'
    assert samples[name] - before.get(name, 0) == 1


def test_it_logs_a_lab_run_without_its_code(lab_client, lab_lesson, caplog):
    code = 'Author.objects.filter(name="my-secret-answer-42").count()'
    with caplog.at_level(logging.INFO, logger="sandbox.models"):
        answer = lab_run(lab_client, lab_lesson, code)
    assert answer["ok"], answer["error"]
    (line,) = run_lines(caplog)
    assert line["kind"] == "lab" and line["ok"] is True
    assert line["lesson"] == lab_lesson.ref
    assert line["statements"] == 1 and line["rows"] == 1
    assert line["code_chars"] == len(code) and len(line["code_sha256"]) == 16
    assert line["bounds"] == [] and line["error_type"] is None
    assert line["ms"] > 0
    assert "my-secret-answer-42" not in json.dumps(line)


def test_it_names_the_bounds_and_the_error_of_a_lab_run(lab_client, lab_lesson, caplog):
    with caplog.at_level(logging.INFO, logger="sandbox.models"):
        lab_run(lab_client, lab_lesson, "while True:\n    print(Book.objects.count())")
        lab_run(lab_client, lab_lesson, "Author.objects.get(pk=-1)")
    capped, failed = run_lines(caplog)
    assert capped["ok"] is False and capped["bounds"] == ["statements"]
    assert capped["error_type"] == "LimitExceeded" and capped["statements"] == 60
    assert failed["ok"] is False and failed["bounds"] == []
    assert failed["error_type"] == "DoesNotExist"
