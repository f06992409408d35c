"""Graded exercises: run a learner's answer and the reference solution on fresh copies of the
lesson's data (the fixture, then each hidden variant) and say truthfully what differs.

No ORM here: callers pass the sandbox that holds a fresh seed of the fixture (see
``Sandbox.objects.grader_for``; it is only ever used inside rolled-back transactions, see
``runner.run_scratch``) and the exercise's fields.

Comparing results:
- the last statement of each side is compared (an answer may first ``CREATE FUNCTION`` …);
- column count must match; names are not compared (``AS`` is the learner's choice);
- rows as multisets, or in order when the exercise says order matters;
- values by the column's type: numbers as exact decimals (``0`` = ``0.00``, ``integer`` =
  ``numeric``; floating point to 12 significant digits), timestamps with a time zone as instants,
  NULL equal to NULL, everything else by PostgreSQL's text form.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings

from sandbox import plans, runner, servers, statements

SHOWN_ROWS = 3  # at most this many missing or extra rows are shown per data set

_EXACT = {"smallint", "integer", "bigint", "numeric", "oid"}
_FLOAT = {"real", "double precision"}
_INSTANT = {"timestamp with time zone"}


@dataclass
class Verdict:
    passed: bool
    problems: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)  # {"label", "columns", "rows"}
    plan_problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "passed": self.passed,
            "problems": self.problems,
            "rows": self.rows,
            "plan_problems": self.plan_problems,
        }


class AnswerRefused(ValueError):
    """The answer cannot be graded as written (syntax, transaction control, not a query)."""


def parse_answer(sql: str, languages: list[str], max_statements: int) -> list[statements.Statement]:
    """The answer's statements; the last must return rows. Raises AnswerRefused."""
    try:
        parsed = statements.split(sql, languages=languages, max_statements=max_statements)
    except statements.StatementRefused as exc:
        raise AnswerRefused(exc.message) from None
    for statement in parsed:
        if statement.kind == "TransactionStmt":
            raise AnswerRefused(
                "Leave out BEGIN, COMMIT and ROLLBACK: an answer is checked inside a "
                "transaction of its own."
            )
    if not parsed[-1].returns_rows:
        raise AnswerRefused(
            "The last statement of an answer must be the query whose rows are checked."
        )
    return parsed


def _value(value: Any, type_name: str) -> Any:
    if value is None:
        return None
    base = type_name.split("(")[0].strip()
    if base in _EXACT or base in _FLOAT:
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return str(value)  # NaN, Infinity
        if base in _FLOAT and number:
            number = Decimal(f"{number:.12g}")
        return number.normalize() if number else Decimal(0)
    if base in _INSTANT and isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            return value
        return moment.astimezone(datetime.UTC) if moment.tzinfo else moment
    return value


def _normalised(result: runner.StatementResult) -> list[tuple]:
    return [
        tuple(_value(value, kind) for value, kind in zip(row, result.types, strict=True))
        for row in result.rows
    ]


def compare(
    expected: runner.StatementResult,
    got: runner.StatementResult,
    order_matters: bool,
    label: str,
) -> tuple[list[str], dict | None]:
    """What differs between the learner's result and the solution's, as messages, and a few
    example rows ({"label", "columns", "rows"}) when rows are missing or extra."""
    if len(got.columns) != len(expected.columns):
        return (
            [
                f"{label}: your query returns {len(got.columns)} column"
                f"{'s' if len(got.columns) != 1 else ''} ({', '.join(got.columns)}); "
                f"{len(expected.columns)} {'is' if len(expected.columns) == 1 else 'are'} expected."
            ],
            None,
        )
    mine, theirs = _normalised(got), _normalised(expected)
    # Rows are shown as PostgreSQL returned them, not in their normalised form.
    original = dict(zip(theirs, expected.rows, strict=True)) | dict(
        zip(mine, got.rows, strict=True)
    )
    if got.truncated:
        return ([f"{label}: your query returns too many rows to check."], None)
    problems: list[str] = []
    shown = None
    if Counter(mine) != Counter(theirs):
        missing = list((Counter(theirs) - Counter(mine)).elements())
        extra = list((Counter(mine) - Counter(theirs)).elements())
        if len(mine) != len(theirs):
            problems.append(
                f"{label}: your query returns {len(mine)} row{'s' if len(mine) != 1 else ''}; "
                f"{len(theirs)} {'is' if len(theirs) == 1 else 'are'} expected."
            )
        parts = []
        if missing:
            parts.append(
                f"{len(missing)} expected row{'s are' if len(missing) != 1 else ' is'} missing"
            )
        if extra:
            parts.append(f"{len(extra)} row{'s' if len(extra) != 1 else ''} should not be there")
        problems.append(f"{label}: {' and '.join(parts)}.")
        shown = {
            "label": label,
            "columns": got.columns,
            "rows": [(kind, original[row]) for kind, row in _examples(missing, extra)],
        }
    elif order_matters and mine != theirs:
        first = next(i for i, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b)
        problems.append(
            f"{label}: the right rows, in the wrong order (from row {first + 1} on); "
            "this exercise checks the order."
        )
    return problems, shown


def _examples(missing: list[tuple], extra: list[tuple]) -> list[tuple[str, tuple]]:
    """A few missing and extra rows to show. A missing row and an extra row with the same first
    value (usually the key) are shown one above the other, so that the learner sees at once what
    differs in that row (a total doubled by a join, a 1 that should be a 0)."""
    extra_by_first: dict[Any, list[tuple]] = {}
    for row in extra:
        if row:
            extra_by_first.setdefault(row[0], []).append(row)
    pairs: list[tuple[str, tuple]] = []
    for row in missing:
        partners = extra_by_first.get(row[0]) if row else None
        if partners:
            pairs += [("missing", row), ("extra", partners.pop(0))]
            if len(pairs) == 2 * SHOWN_ROWS:
                break
    if pairs:
        return pairs
    return [("missing", row) for row in missing[:SHOWN_ROWS]] + [
        ("extra", row) for row in extra[:SHOWN_ROWS]
    ]


def grade(
    server: int,
    sandbox_name: str,
    answer: list[statements.Statement],
    solution: list[statements.Statement],
    variants: list[dict[str, str]],
    order_matters: bool,
    plan_checks: list[dict[str, Any]],
) -> Verdict:
    """Run answer and solution on the fixture and on each variant; compare; check the plan.

    Raises ``runner.ScratchFailed`` when a variant cannot be set up or the check is stopped,
    and ``SolutionBroken`` when the reference solution itself fails."""
    setups = [""] + [variant["setup"] for variant in variants]
    defaults = servers.Limits.from_settings()
    # The whole result is compared, not a page of it; the time limits stay as they are.
    limits = dataclasses.replace(
        defaults,
        max_rows=max(defaults.max_rows, settings.SANDBOX_CHECK_MAX_ROWS),
        max_bytes=max(defaults.max_bytes, settings.SANDBOX_CHECK_MAX_ROWS * 200),
    )
    outcomes = runner.run_scratch(
        server, sandbox_name, setups, [solution, answer], explain_last_of=1, limits=limits
    )
    verdict = Verdict(passed=True)
    for position, (reference, mine) in enumerate(outcomes):
        label = (
            "On the lesson's data"
            if position == 0
            else f"On hidden data set {position} of {len(variants)}"
        )
        if reference.error is not None:
            raise SolutionBroken(f"{label}: {reference.error.message}")
        if mine.error is not None:
            verdict.passed = False
            verdict.problems.append(f"{label}: your SQL failed: {mine.error.message}")
            break
        problems, shown = compare(reference.results[-1], mine.results[-1], order_matters, label)
        if problems:
            verdict.passed = False
            verdict.problems += problems
            if shown:
                # Hidden data is shown a few rows at most, and only for the first failing set.
                verdict.rows.append(shown)
            break
    first = outcomes[0][1]
    if plan_checks and first.plan is not None:
        plan = plans.parse(first.plan)
        for item in plan_checks:
            problem = plan_problem(plan, item, sandbox_name)
            if problem:
                verdict.plan_problems.append(problem)
        if verdict.plan_problems:
            verdict.passed = False
    return verdict


# What a failing hidden plan check (``hidden: true``) tells the learner: the kind of check,
# never the table, index or number it names (that would give the answer away).
HIDDEN_CHECKS = {
    "index_scan_on": "it must read one of the tables through an index",
    "uses_index": "it must use a particular index",
    "no_seq_scan": "it must not read one of the tables with a Seq Scan",
    "max_rows_read": "it must read fewer rows of the lesson's tables",
    "no_spill": "no part of it may spill to disk",
}


def plan_problem(plan: plans.Plan, item: dict[str, Any], schema: str) -> str | None:
    """The learner's message for one plan check of an exercise, or None when it passes; a
    hidden check's message names only its kind (its detail is shown once the answer passes)."""
    problem = plans.check(plan, item["check"], item["value"], schema=schema)
    if problem and item.get("hidden"):
        kind = HIDDEN_CHECKS.get(item["check"], "it must pass a check of its plan")
        return (
            f"The plan does not pass a hidden check: {kind}. "
            "Its detail is shown once your answer passes."
        )
    return problem


class SolutionBroken(RuntimeError):
    """The reference solution fails: a content error, not the learner's."""
