"""What the sandbox holds about a user, for the account export and deletion
(lessons/personal_data.py; registered from SandboxConfig.ready()).

Each kind of row is found by one small function (`_sandbox_rows`, `_plan_rows`,
`_attempt_rows`, `_run_counter_rows`): today they filter on the learner key "user:<id>";
when the records get a `learner` foreign key, only these four filters change.

The tables a learner made inside their sandboxes are scratch data and are not exported; the
sandboxes themselves are dropped when the account is deleted.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import QuerySet

from sandbox.models import ExerciseAttempt, PlanRecord, RunCounter, Sandbox, Share

log = logging.getLogger(__name__)


def _sandbox_rows(user) -> QuerySet[Sandbox]:
    return Sandbox.objects.filter(learner__user=user)


def _plan_rows(user) -> QuerySet[PlanRecord]:
    return PlanRecord.objects.filter(learner__user=user)


def _attempt_rows(user) -> QuerySet[ExerciseAttempt]:
    return ExerciseAttempt.objects.filter(learner__user=user)


def _run_counter_rows(user) -> QuerySet[RunCounter]:
    return RunCounter.objects.filter(learner__user=user)


def _share_rows(user) -> QuerySet[Share]:
    return Share.objects.filter(owner__user=user)


def _when(moment) -> str | None:
    return moment.isoformat() if moment else None


def export_attempts(user) -> list[dict]:
    """Every checked answer (SQL, or Python in the ORM lab) and every solution asked for."""
    rows = _attempt_rows(user).select_related("exercise__lesson__track").order_by("created")
    return [
        {
            "lesson": attempt.exercise.lesson.ref,
            "exercise": attempt.exercise.key,
            "language": "python" if attempt.exercise.lesson.mode == "django_lab" else "sql",
            "kind": attempt.kind,
            "code": attempt.sql,
            "passed": attempt.passed,
            "feedback": attempt.feedback,
            "at": _when(attempt.created),
        }
        for attempt in rows
    ]


def export_plans(user) -> list[dict]:
    """The explained statements kept for before/after comparisons, with their plans."""
    rows = _plan_rows(user).select_related("lesson__track").order_by("created_at", "pk")
    return [
        {
            "lesson": record.lesson.ref,
            "sql": record.sql,
            "plan": record.plan,
            "plan_text": record.text,
            "total_ms": record.total_ms,
            "at": _when(record.created_at),
        }
        for record in rows
    ]


def export_sandboxes(user) -> list[dict]:
    rows = _sandbox_rows(user).select_related("lesson__track").order_by("created_at")
    return [
        {
            "lesson": sandbox.lesson.ref if sandbox.lesson else None,
            "state": sandbox.state,
            "created_at": _when(sandbox.created_at),
            "last_used_at": _when(sandbox.last_used_at),
        }
        for sandbox in rows
    ]


def export_shares(user) -> list[dict]:
    """The snapshots the learner shared (the link's token is theirs to know)."""
    rows = _share_rows(user).select_related("lesson__track").order_by("created_at")
    return [
        {
            "token": share.token,
            "kind": share.kind,
            "lesson": share.lesson.ref if share.lesson else None,
            "sql": share.sql,
            "snapshot": share.snapshot,
            "created_at": _when(share.created_at),
            "expires_at": _when(share.expires_at),
        }
        for share in rows
    ]


def erase_shares(user) -> None:
    """A deleted account's shared links stop working: the snapshots go with it."""
    _share_rows(user).delete()


def erase_attempts(user) -> None:
    _attempt_rows(user).delete()
    _run_counter_rows(user).delete()


def erase_plans(user) -> None:
    _plan_rows(user).delete()


def erase_sandboxes(user) -> None:
    """Claim the user's sandboxes for dropping (in the deletion's transaction, so the rows no
    longer name the user) and drop them once it commits, through Sandbox.drop(). A sandbox
    whose server does not answer stays "dropping" and the janitor drops it later."""
    rows = _sandbox_rows(user)
    pks = list(rows.values_list("pk", flat=True))
    rows.update(state=Sandbox.State.DROPPING, learner=None)

    def drop() -> None:
        for sandbox in Sandbox.objects.filter(pk__in=pks):
            try:
                sandbox.drop()
            except Exception as exc:  # the account is gone already; the janitor retries
                log.warning("sandbox %s left for the janitor: %s", sandbox.name, exc)

    transaction.on_commit(drop)


def register() -> None:
    from lessons.personal_data import register_personal_data

    register_personal_data("exercise_attempts", export=export_attempts, erase=erase_attempts)
    register_personal_data("saved_plans", export=export_plans, erase=erase_plans)
    register_personal_data("sandboxes", export=export_sandboxes, erase=erase_sandboxes)
    register_personal_data("shared_snapshots", export=export_shares, erase=erase_shares)
