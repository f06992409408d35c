"""Hints, then the solution: what a learner is offered on a graded exercise.

The rules, enforced here for both SQL and Django ORM lab exercises:

- no hint is sent before the learner's first failed check; each failed check unlocks the next
  hint (the exercise's hints in order), and a pass unlocks them all;
- the solution is offered after ExerciseAttempt.SOLUTION_AFTER_FAILURES failed checks, once
  the exercise is passed, or to a learner who confirms they give up (recorded as GAVE_UP);
  before that the solution endpoint refuses (403) and says what is needed;
- reading the solution before passing still lets the learner pass, but the exercise is then
  "passed with the solution" in their progress.
"""

from __future__ import annotations

from sandbox.models import ExerciseAttempt


def help_state(learner_id: int | None, exercise) -> dict:
    """The hints unlocked so far and whether the solution is offered, JSON-ready."""
    standing = ExerciseAttempt.standing(learner_id, exercise)
    hints = list(exercise.hints_html or [])
    unlocked = len(hints) if standing["passed"] or standing["solution_seen"] else standing["failed"]
    needed = ExerciseAttempt.SOLUTION_AFTER_FAILURES
    return {
        "hints": hints[:unlocked],
        "hints_total": len(hints),
        "failed_checks": standing["failed"],
        "passed": standing["passed"],
        "passed_with_solution": standing["passed"] and standing["seen_before_pass"],
        "gave_up": standing["gave_up"],
        "solution_available": ExerciseAttempt.solution_allowed(standing),
        "checks_until_solution": max(needed - standing["failed"], 0),
    }


def refusal(state: dict) -> str:
    """Why the solution is not shown yet, and what would show it."""
    left = state["checks_until_solution"]
    return (
        f"The solution is offered after {ExerciseAttempt.SOLUTION_AFTER_FAILURES} failed "
        f"checks: {left} more to go. Check your answer again, or give up to see it now "
        '(send "give_up": true; the exercise will then count as passed with the solution).'
    )
