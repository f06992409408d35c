# ruff: noqa: F811 (pytest fixtures imported from lab_support are arguments here)
"""What the warm worker prepares once and children reuse (sandbox/lab/warm.py): compiled code
kept by its source, the lesson's names shared read-only, and nothing of one piece of code
reaching another."""

from __future__ import annotations

import pytest

from lessons.models import Exercise
from sandbox.lab import restricted, warm
from sandbox.tests.lab_support import (  # noqa: F401
    lab_check,
    lab_client,
    lab_lesson,
    lab_run,
    lab_settings,
    lab_track,
    lab_worker,
)


@pytest.fixture
def empty_cache():
    kept = dict(warm._compiled)
    warm._compiled.clear()
    yield warm._compiled
    warm._compiled.clear()
    warm._compiled.update(kept)


def test_compiled_code_is_kept_by_its_source_and_so_are_refusals(empty_cache):
    first = warm.compiled_code("x = 1\nx")
    assert warm.compiled_code("x = 1\nx") is first
    with pytest.raises(restricted.CompileProblem) as refused:
        warm.compiled_code("import os")
    with pytest.raises(restricted.CompileProblem) as again:
        warm.compiled_code("import os")
    assert again.value is refused.value and "import" in again.value.message
    for n in range(warm.COMPILED_KEPT + 3):
        warm.compiled_code(f"{n}")
    assert len(empty_cache) == warm.COMPILED_KEPT
    assert "x = 1\nx" not in empty_cache and f"{warm.COMPILED_KEPT + 2}" in empty_cache


def test_precompiling_runs_nothing_and_never_raises(empty_cache):
    warm.precompile({"op": "run", "code": "print(1 / 0)", "limits": {}})
    assert "print(1 / 0)" in empty_cache
    too_deep = "(" * 300 + "1" + ")" * 300
    warm.precompile({"op": "run", "code": too_deep, "limits": {"recursion": 50}})
    warm.precompile({"op": "run", "code": "def f(:", "limits": {}})
    with pytest.raises(restricted.CompileProblem, match="SyntaxError"):
        warm.compiled_code("def f(:")
    warm.precompile({"op": "grade", "answer": "1"})
    warm.precompile({"op": "run", "code": ["not", "a", "string"]})


def test_the_code_cannot_reach_the_shared_names(lab_client, lab_lesson):
    for code in ("__builtins__", "_getattr_.__closure__", "globals()"):
        answer = lab_run(lab_client, lab_lesson, code)
        assert answer["error"]["type"] in ("NotAllowed", "NameError"), answer
    # A name the code assigns shadows the lesson's for this run only.
    assert lab_run(lab_client, lab_lesson, "Author = 3\nAuthor")["result"]["rows"] == [[3]]
    assert lab_run(lab_client, lab_lesson, "Author.objects.count()")["result"]["rows"] == [[50]]


def test_the_answer_does_not_see_what_the_solution_assigned(lab_client, lab_lesson):
    exercise = Exercise.objects.create(
        lesson=lab_lesson,
        key="count-authors",
        prompt_html="<p>How many authors?</p>",
        solution_sql="secret_total = Author.objects.count()\nsecret_total",
    )
    answer = lab_check(lab_client, exercise, "secret_total")
    assert not answer["passed"]
    assert "NameError" in answer["problems"][0] or "not defined" in answer["problems"][0]
    assert lab_check(lab_client, exercise, "Author.objects.count()")["passed"]
