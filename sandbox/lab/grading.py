"""Graded ORM exercises: the answer's result (its last expression, or what it printed) against
the reference solution's, on the lesson's data and on each hidden variant, as SQL exercises
are compared (``sandbox.grading.compare``); then the number of statements (``max_queries``)
and the SQL sandbox's plan checks, applied to every SELECT the answer sent on the lesson's data.

Everything runs in the lesson's grader sandbox, in one transaction that the worker's child rolls
back; transaction control from the answer is refused there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox import plans
from sandbox.grading import SolutionBroken, Verdict, compare, plan_problem
from sandbox.lab import client
from sandbox.models import Sandbox


@dataclass
class _Result:
    """What ``compare`` reads of a statement result."""

    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    truncated: bool


def _as_result(table: dict | None) -> _Result:
    if not table:
        return _Result(columns=["value"], types=["text"], rows=[], truncated=False)
    return _Result(
        columns=table["columns"],
        types=table.get("types") or ["text"] * len(table["columns"]),
        rows=[list(row) for row in table["rows"]],
        truncated=bool(table.get("truncated")),
    )


def _counted(queries: list[dict]) -> list[dict]:
    """Statements that count against ``max_queries``: not Django's own savepoints."""
    return [
        q
        for q in queries
        if not q["sql"].lstrip().upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


@dataclass
class LabExercise:
    """What grading reads of an exercise (a published ``Exercise`` or a lesson file's spec)."""

    solution: str
    variants: list[dict[str, str]]
    order_matters: bool
    plan_checks: list[dict[str, Any]]
    max_queries: int | None


def grade_lab(exercise, code: str) -> tuple[Verdict, dict]:
    """Grade ``code`` against a published exercise in its lesson's grader sandbox."""
    lesson = exercise.lesson
    grader = Sandbox.objects.grader_for(lesson)
    spec = LabExercise(
        solution=exercise.solution_sql,
        variants=exercise.variants or [],
        order_matters=exercise.order_matters,
        plan_checks=exercise.plan_checks or [],
        max_queries=exercise.max_queries,
    )
    return grade_code(grader.server, grader.name, lesson.lab_models, spec, code)


def grade_code(
    server: int, name: str, models: str, exercise: LabExercise, code: str
) -> tuple[Verdict, dict]:
    """(verdict, extra keys of the answer: the answer's ``queries`` and ``repeated`` on the
    lesson's data). Raises SolutionBroken when the reference solution fails."""
    answer = client.call_as(
        server,
        name,
        {
            "op": "grade",
            "models": models,
            "answer": code,
            "solution": exercise.solution,
            "setups": [""] + [variant["setup"] for variant in exercise.variants],
            "explain": bool(exercise.plan_checks),
            "limits": client.limits(),
        },
        wall_seconds=client.limits()["wall_seconds"],
    )
    verdict = Verdict(passed=True)
    details: dict[str, Any] = {"queries": [], "repeated": []}
    if _stopped(answer, verdict, details):
        return verdict, details
    sets = answer.get("sets") or []
    _compare_sets(sets, exercise, verdict, details)
    if sets and sets[0].get("answer") and sets[0]["answer"]["error"] is None:
        _check_query_count(sets[0]["answer"], exercise, verdict)
        if exercise.plan_checks:
            _check_plans(sets[0].get("plans") or [], exercise, verdict, name)
    return verdict, details


def _stopped(answer: dict, verdict: Verdict, details: dict) -> bool:
    """Whether a bound stopped the check before it compared anything (the verdict then says
    which); SolutionBroken when the reference solution was what failed."""
    sets = answer.get("sets") or []
    if answer.get("bound") and not sets and "current" not in answer:
        verdict.passed = False
        verdict.problems.append(
            "Your code was stopped: " + (answer.get("error") or {}).get("message", "Stopped.")
        )
        return True
    if not answer.get("ok") and "current" in answer:
        # A bound (statements, output, time) stopped the run: say which, as for a run.
        current = answer["current"]
        message = (answer.get("error") or {}).get("message", "The check was stopped.")
        if current.get("side") == "solution":
            raise SolutionBroken(message)
        verdict.passed = False
        verdict.problems.append(f"Your code was stopped: {message}")
        details["queries"] = current.get("queries") or []
        return True
    if answer.get("error") and not sets:
        raise SolutionBroken(f"the check could not run: {answer['error'].get('message')}")
    return False


def _compare_sets(sets: list[dict], exercise: LabExercise, verdict: Verdict, details: dict):
    """The answer's result against the solution's on each data set, up to the first that
    differs (or fails)."""
    variants = exercise.variants
    for position, outcome in enumerate(sets):
        label = (
            "On the lesson's data"
            if position == 0
            else f"On hidden data set {position} of {len(variants)}"
        )
        reference, mine = outcome["solution"], outcome.get("answer")
        if reference["error"] is not None:
            raise SolutionBroken(f"{label}: {reference['error']['message']}")
        if position == 0 and mine is not None:
            details["queries"] = mine["queries"]
            details["repeated"] = mine["repeated"]
        if mine is None or mine["error"] is not None:
            verdict.passed = False
            error = mine["error"] if mine else {"message": "it did not run"}
            where = f" (line {error['line']})" if error.get("line") else ""
            verdict.problems.append(f"{label}: your code failed{where}: {error['message']}")
            return
        problems, shown = compare(
            _as_result(reference["result"]),
            _as_result(mine["result"]),
            exercise.order_matters,
            label,
        )
        if problems:
            verdict.passed = False
            verdict.problems += ["Wrong rows. " + problems[0], *problems[1:]]
            if shown:
                verdict.rows.append(shown)
            return


def _check_query_count(first: dict, exercise: LabExercise, verdict: Verdict) -> None:
    """At most ``max_queries`` statements on the lesson's data, naming the repeated shape."""
    sent = _counted(first["queries"])
    if exercise.max_queries is None or len(sent) <= exercise.max_queries:
        return
    verdict.passed = False
    message = (
        f"Too many queries: your code sent {len(sent)} "
        f"quer{'ies' if len(sent) != 1 else 'y'}; at most {exercise.max_queries} "
        f"{'are' if exercise.max_queries != 1 else 'is'} allowed."
    )
    if first["repeated"]:
        message += " " + first["repeated"][0]["hint"]
    verdict.problems.append(message)


def _check_plans(found: list, exercise: LabExercise, verdict: Verdict, schema: str) -> None:
    """The exercise's plan checks on the plan of every SELECT the answer sent (rows read are
    counted in the learner's ``schema`` only)."""
    for plan in found:
        if plan is None:
            continue
        view = plans.parse(plan)
        for item in exercise.plan_checks:
            problem = plan_problem(view, item, schema)
            if problem and problem not in verdict.plan_problems:
                verdict.plan_problems.append(problem)
    if verdict.plan_problems:
        verdict.passed = False
