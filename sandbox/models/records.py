"""Records in the app database: sandboxes (whose, for which lesson, on which server), the
plans learners explained, and their exercise attempts. The sandbox server itself is only
touched through ``sandbox.roles`` and ``sandbox.runner``."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from config.infra import logs
from lessons.models import Learner, Lesson
from sandbox import metrics, roles, runner, servers
from sandbox.models.janitor import JanitorQuerySet
from sandbox.models.pool import WarmPoolQuerySet
from sandbox.models.seeds import (
    SANDBOX_MODES,
    FixtureMissing,
    current_digest,
    fixture_digest,
    fixture_sql,
    lesson_seed,
    seed_name,
)
from sandbox.models.shares import Share
from sandbox.statements import Statement

# The run log line's logger keeps the name it had before models.py became a package.
log = logging.getLogger("sandbox.models")


class SandboxQuerySet(JanitorQuerySet, WarmPoolQuerySet):
    def active(self) -> SandboxQuerySet:
        return self.filter(state=Sandbox.State.ACTIVE)

    def expired(self) -> SandboxQuerySet:
        """Active sandboxes unused for longer than their learner kind allows (a user's, or a
        signed-out visitor's), and those whose learner or lesson is gone."""
        now = timezone.now()
        users = now - timedelta(hours=settings.SANDBOX_EXPIRY_USER_HOURS)
        visitors = now - timedelta(hours=settings.SANDBOX_EXPIRY_SESSION_HOURS)
        return self.active().filter(
            Q(learner__user__isnull=False, last_used_at__lt=users)
            | Q(learner__user__isnull=True, last_used_at__lt=visitors)
            | Q(learner__isnull=True)
            | Q(lesson__isnull=True)
        )

    def half_made(self) -> SandboxQuerySet:
        """Rows whose provisioning or dropping a crash interrupted."""
        stale = timezone.now() - timedelta(minutes=10)
        return self.filter(
            Q(state=Sandbox.State.PROVISIONING, created_at__lt=stale)
            | Q(state=Sandbox.State.DROPPING)
        )

    def of_learner(self, learner_id: int, lesson_ref: str) -> Sandbox | None:
        """The learner's active sandbox for a published sandbox lesson "<track>/<slug>"."""
        track, _, slug = lesson_ref.partition("/")
        return (
            self.active()
            .select_related("lesson__track")
            .filter(
                learner_id=learner_id,
                lesson__slug=slug,
                lesson__track__slug=track,
                lesson__mode__in=SANDBOX_MODES,
                lesson__is_published=True,
                lesson__track__is_published=True,
            )
            .first()
        )

    def adopt(self, from_id: int, to_id: int) -> int:
        """Give one learner's sandboxes to another (a visitor who signs in), except for
        lessons where the new owner already has one: theirs wins, and the visitor's is left
        to be dropped with the visitor (its learner set to null, the janitor drops it)."""
        taken = self.active().filter(learner_id=to_id).values("lesson_id")
        return (
            self.active()
            .filter(learner_id=from_id)
            .exclude(lesson_id__in=taken)
            .update(learner_id=to_id)
        )

    def for_learner(self, learner_id: int, lesson: Lesson) -> Sandbox:
        """The learner's sandbox for a lesson: theirs, else a warm one, else a new one."""
        found = self.active().filter(learner_id=learner_id, lesson=lesson).first()
        if found is not None:
            return found
        return self.make_for_learner(learner_id, lesson)


class Sandbox(models.Model):
    """One learner's sandbox for one lesson: a role and a schema of the same opaque name."""

    class State(models.TextChoices):
        PROVISIONING = "provisioning", "Being made"
        READY = "ready", "Warm, waiting in the pool"
        ACTIVE = "active", "In use"
        DROPPING = "dropping", "Being dropped"
        # Holds a fixture's data for grading exercises; only used in rolled-back transactions.
        GRADER = "grader", "Grades exercises"

    name = models.CharField(max_length=63, unique=True)
    server = models.PositiveSmallIntegerField(default=0)
    # Null in the warm pool and for graders; set to null when the learner is deleted, so the
    # janitor still drops the schema and role on the sandbox server (see expired()).
    learner = models.ForeignKey(
        Learner, null=True, blank=True, on_delete=models.SET_NULL, related_name="sandboxes"
    )
    lesson = models.ForeignKey(
        Lesson, null=True, blank=True, on_delete=models.SET_NULL, related_name="sandboxes"
    )
    fixture = models.CharField(max_length=200, blank=True)
    fixture_digest = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PROVISIONING)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(default=timezone.now)
    disk_bytes = models.BigIntegerField(null=True, blank=True)

    objects = SandboxQuerySet.as_manager()
    # Set by for_learner() on a sandbox it has just made or taken from the pool.
    just_made = False

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["learner", "lesson"],
                condition=Q(state="active"),
                name="sandbox_one_active_per_learner_and_lesson",
            )
        ]
        indexes = [
            models.Index(fields=["state", "server", "fixture_digest"]),
            models.Index(fields=["state", "last_used_at"]),
        ]

    def __str__(self) -> str:
        owner = f"learner {self.learner_id}" if self.learner_id else "pool"
        return f"{self.name} ({owner}, {self.lesson or self.fixture})"

    def run(self, statements: list[Statement]) -> runner.RunOutcome:
        """Run statements here; reset the sandbox if they left it over the disk limit. Raises
        SandboxUnavailable when the server went away during the run."""
        languages = self.lesson.sandbox_languages if self.lesson else ["plpgsql", "sql"]
        started = time.perf_counter()
        with self._noting_unavailable():
            outcome = runner.run(self.server, self.name, statements, languages=languages)
        self._raise_if_server_lost(outcome.error, "run", statements, started)
        self._touch(outcome.disk_bytes)
        limit_mb = settings.SANDBOX_DISK_LIMIT_MB
        if outcome.disk_bytes is not None and outcome.disk_bytes > limit_mb * 1024 * 1024:
            used_mb = outcome.disk_bytes / 1024 / 1024
            self.reset()
            outcome.error = runner.RunError(
                sqlstate="53100",
                message=(
                    f"Disk limit: your sandbox grew to {used_mb:.0f} MB, over the {limit_mb} MB "
                    "limit, so it was reset to the lesson's starting data."
                ),
                statement_index=max(len(outcome.results) - 1, 0),
                bound="disk",
            )
        bounds = [outcome.error.bound] if outcome.error and outcome.error.bound else []
        if any(result.truncated for result in outcome.results):
            rows = sum(len(result.rows) for result in outcome.results)
            bounds.append("rows" if rows >= settings.SANDBOX_MAX_ROWS else "bytes")
        self._record("run", statements, started, outcome.error, bounds, outcome)
        return outcome

    def explain(self, statement: Statement) -> runner.ExplainOutcome:
        started = time.perf_counter()
        with self._noting_unavailable():
            outcome = runner.explain(self.server, self.name, statement)
        self._raise_if_server_lost(outcome.error, "explain", [statement], started)
        self._touch(None)
        error = outcome.error
        self._record(
            "explain", [statement], started, error, [error.bound] if error and error.bound else []
        )
        return outcome

    @contextlib.contextmanager
    def _noting_unavailable(self) -> Iterator[None]:
        try:
            yield
        except servers.SandboxUnavailable:
            servers.note_unavailable(self.server)
            metrics.unavailable.labels(server=self.server).inc()
            raise

    # Errors that mean the connection or the server went away, not the learner's SQL.
    _LOST = ("57P01", "57P02", "57P03")

    def _raise_if_server_lost(
        self, error: runner.RunError | None, kind: str, statements: list[Statement], started: float
    ) -> None:
        if error is None or error.bound is not None:
            return
        lost = error.sqlstate in self._LOST or error.sqlstate.startswith("08")
        # A learner may end their own session (pg_terminate_backend(pg_backend_pid())): that
        # is their error to see. Only a server that no longer answers is "unavailable".
        if lost and not servers.server_answers(self.server, fresh=True):
            metrics.unavailable.labels(server=self.server).inc()
            self._log(kind, statements, started, error, ["server_lost"], None)
            raise servers.SandboxUnavailable(f"the sandbox server went away ({error.message})")

    def _record(self, kind, statements, started, error, bounds, outcome=None) -> None:
        metrics.count_run(kind, bounds)
        self._log(kind, statements, started, error, bounds, outcome)

    def _log(self, kind, statements, started, error, bounds, outcome) -> None:
        """One line per run with the bounds it hit. Never the learner's SQL at info level:
        its length and a hash (to spot the same query repeated) say enough."""
        text = "\n".join(statement.text for statement in statements)
        results = outcome.results if isinstance(outcome, runner.RunOutcome) else []
        logs.info_later(
            log,
            "sandbox %s %s",
            kind,
            "ok" if error is None else f"error {error.sqlstate}",
            extra={
                "kind": kind,
                "sandbox": self.name,
                "server": self.server,
                "lesson": self.lesson.ref if self.lesson else None,
                "statements": len(statements),
                "sql_chars": len(text),
                "sql_sha256": hashlib.sha256(text.encode()).hexdigest()[:16],
                "ms": round((time.perf_counter() - started) * 1000, 2),
                "ok": error is None,
                "sqlstate": error.sqlstate if error else None,
                "bounds": bounds,
                "rows": sum(len(result.rows) for result in results),
                "disk_bytes": getattr(outcome, "disk_bytes", None),
            },
        )
        log.debug("sandbox %s SQL: %s", kind, text)

    def reset(self) -> None:
        """Back to the lesson's fixture as it is today (its file may have been edited, or the
        lesson may name another one since this sandbox was seeded): take a fresh sandbox (warm
        if one waits), drop this."""
        lesson = self.lesson
        fixture = seed_name(lesson) if lesson is not None else self.fixture
        seed = lesson_seed(lesson) if lesson is not None else fixture_sql(fixture)
        digest = fixture_digest(seed)
        languages = lesson.sandbox_languages if lesson else []
        old_name = self.name
        with transaction.atomic():
            warm = (
                Sandbox.objects.select_for_update(skip_locked=True)
                .filter(state=Sandbox.State.READY, server=self.server, fixture_digest=digest)
                .first()
            )
            if warm is not None:
                new_name = warm.name
                roles.grant_languages(self.server, new_name, languages)
                warm.delete()
        if warm is None:
            new_name = servers.new_sandbox_name()
            roles.provision(self.server, new_name, seed, languages)
        Sandbox.objects.filter(pk=self.pk).update(
            name=new_name,
            fixture=fixture,
            fixture_digest=digest,
            last_used_at=timezone.now(),
            disk_bytes=None,
        )
        self.name, self.fixture, self.fixture_digest = new_name, fixture, digest
        roles.drop(self.server, [old_name])
        if warm is not None:
            Sandbox.objects.refill_soon(self.server, fixture)

    def data_changed(self) -> bool:
        """Whether the lesson's data changed since this sandbox was seeded (its fixture file
        was edited, or the lesson names another one): the learner is told and offered a reset,
        and their tables stay theirs until they accept."""
        if self.lesson is None:
            return False
        try:
            return self.fixture_digest != current_digest(self.lesson)
        except FixtureMissing:
            return False

    def drop(self) -> None:
        """Drop from the server, then forget. A failure leaves the row for the janitor."""
        Sandbox.objects.filter(pk=self.pk).update(state=Sandbox.State.DROPPING)
        roles.drop(self.server, [self.name])
        Sandbox.objects.filter(pk=self.pk).delete()

    def _touch(self, disk_bytes: int | None) -> None:
        # Once a minute is precise enough for expiry and spares a write on most runs.
        now = timezone.now()
        if disk_bytes is None and now - self.last_used_at < timedelta(minutes=1):
            return
        changes: dict = {"last_used_at": now}
        if disk_bytes is not None:
            changes["disk_bytes"] = disk_bytes
        Sandbox.objects.filter(pk=self.pk).update(**changes)
        self.last_used_at = now


# -- plans kept for before/after ---------------------------------------------------------------


class PlanRecordQuerySet(models.QuerySet):
    def of(self, learner_id: int, lesson: Lesson) -> PlanRecordQuerySet:
        return self.filter(learner_id=learner_id, lesson=lesson).order_by("-created_at", "-pk")


class PlanRecord(models.Model):
    """One explained statement of a learner in a lesson's sandbox; the last
    SANDBOX_PLANS_KEPT per learner and lesson are kept, for comparing before and after."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="+")
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="+")
    sql = models.TextField()
    plan = models.JSONField()
    text = models.TextField()
    total_ms = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now)

    objects = PlanRecordQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["learner", "lesson", "-created_at"])]

    def __str__(self) -> str:
        return f"learner {self.learner_id} {self.lesson_id} {self.created_at:%H:%M:%S}"

    @classmethod
    def keep(cls, learner_id: int, lesson: Lesson, sql: str, plan, text: str, total_ms: float):
        """Record a plan and forget the learner's oldest beyond the bound."""
        record = cls.objects.create(
            learner_id=learner_id,
            lesson=lesson,
            sql=sql,
            plan=plan,
            text=text,
            total_ms=total_ms,
        )
        stale = cls.objects.of(learner_id, lesson).values_list("pk", flat=True)[
            settings.SANDBOX_PLANS_KEPT :
        ]
        cls.objects.filter(pk__in=list(stale)).delete()
        return record


# -- graded exercises ----------------------------------------------------------------------------


class ExerciseAttempt(models.Model):
    """One "Check" of a learner's answer to an exercise, or a request to see its solution."""

    class Kind(models.TextChoices):
        CHECK = "check", "Checked an answer"
        SOLUTION = "solution", "Asked for the solution"
        GAVE_UP = "gave_up", "Gave up and asked for the solution"

    # The solution is offered after this many failed checks (or when the learner gives up).
    SOLUTION_AFTER_FAILURES = 3

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="+")
    exercise = models.ForeignKey(
        "lessons.Exercise", on_delete=models.CASCADE, related_name="attempts"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CHECK)
    sql = models.TextField(blank=True)
    passed = models.BooleanField(default=False)
    feedback = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["learner", "exercise", "-created"])]

    def __str__(self) -> str:
        return (
            f"learner {self.learner_id} {self.exercise_id} {'pass' if self.passed else self.kind}"
        )

    @classmethod
    def passed_by(cls, learner_id: int, exercise) -> bool:
        return cls.objects.filter(
            learner_id=learner_id, exercise=exercise, kind=cls.Kind.CHECK, passed=True
        ).exists()

    @classmethod
    def passed_all(cls, learner_id: int, lesson) -> bool:
        """Whether the learner has passed every active exercise of `lesson`."""
        wanted = set(lesson.exercises.filter(is_active=True).values_list("pk", flat=True))
        passed = set(
            cls.objects.filter(
                learner_id=learner_id, exercise__lesson=lesson, kind=cls.Kind.CHECK, passed=True
            ).values_list("exercise_id", flat=True)
        )
        return bool(wanted) and wanted <= passed

    @classmethod
    def solution_seen(cls, learner_id: int, exercise) -> bool:
        """Whether the learner has read the solution (asked for it, or gave up)."""
        return cls.objects.filter(
            learner_id=learner_id,
            exercise=exercise,
            kind__in=[cls.Kind.SOLUTION, cls.Kind.GAVE_UP],
        ).exists()

    @classmethod
    def standing(cls, learner_id: int, exercise) -> dict:
        """Where the learner stands on an exercise, in one query: ``failed`` checks,
        ``passed``, ``solution_seen`` (read it before or after), ``seen_before_pass``
        (read the solution before their first pass: "passed with the solution") and
        ``gave_up``. The hint and solution rules (sandbox/views.py) read this."""
        rows = list(
            cls.objects.filter(learner_id=learner_id, exercise=exercise)
            .order_by("created", "pk")
            .values_list("kind", "passed")
        )
        failed = sum(1 for kind, passed in rows if kind == cls.Kind.CHECK and not passed)
        first_pass = next(
            (n for n, (kind, passed) in enumerate(rows) if kind == cls.Kind.CHECK and passed),
            None,
        )
        seen = [n for n, (kind, _) in enumerate(rows) if kind != cls.Kind.CHECK]
        return {
            "failed": failed,
            "passed": first_pass is not None,
            "solution_seen": bool(seen),
            "seen_before_pass": bool(seen) and (first_pass is None or seen[0] < first_pass),
            "gave_up": any(rows[n][0] == cls.Kind.GAVE_UP for n in seen),
        }

    @classmethod
    def solution_allowed(cls, standing: dict) -> bool:
        """The solution is offered once passed, after SOLUTION_AFTER_FAILURES failed checks,
        or to a learner who gave up (a GAVE_UP attempt, recorded before it is shown)."""
        return (
            standing["passed"]
            or standing["solution_seen"]
            or standing["failed"] >= cls.SOLUTION_AFTER_FAILURES
        )

    @classmethod
    def reveal(cls, learner_id: int, exercise, *, gave_up: bool):
        """Record that the learner read the solution: asked for it, or gave up."""
        kind = cls.Kind.GAVE_UP if gave_up else cls.Kind.SOLUTION
        return cls.objects.create(learner_id=learner_id, exercise=exercise, kind=kind)

    @classmethod
    def grade(cls, learner_id: int, exercise, sql: str):
        """Grade ``sql`` as an answer to ``exercise`` on fresh copies of its data, record the
        attempt, and return (attempt, verdict). Raises grading.AnswerRefused for an answer
        that cannot be run as written."""
        from sandbox import grading

        lesson = exercise.lesson
        languages = lesson.sandbox_languages
        answer = grading.parse_answer(sql, languages, settings.SANDBOX_MAX_STATEMENTS)
        solution = grading.parse_answer(exercise.solution_sql, ["plpgsql", "sql"], 1000)
        grader = Sandbox.objects.grader_for(lesson)
        verdict = grading.grade(
            grader.server,
            grader.name,
            answer,
            solution,
            exercise.variants,
            exercise.order_matters,
            exercise.plan_checks,
        )
        feedback = verdict.problems + verdict.plan_problems
        return cls.record(learner_id, exercise, sql, verdict.passed, feedback), verdict

    @classmethod
    def record(cls, learner_id: int, exercise, sql: str, passed: bool, feedback: list[str]):
        """Save a checked answer (the view then records the lesson's progress)."""
        return cls.objects.create(
            learner_id=learner_id, exercise=exercise, sql=sql, passed=passed, feedback=feedback
        )


def move_learner(sender, learner: Learner, visitor: Learner, **kwargs) -> bool:
    """``learner_absorbed``'s receiver (connected in ``SandboxConfig.ready``): a visitor who
    signs in keeps their sandboxes (except where the account has one for the same lesson:
    the account's wins), exercise attempts and kept plans, inside ``Learner.absorb``'s
    transaction. Returns whether anything moved."""
    moved = Sandbox.objects.adopt(visitor.pk, learner.pk)
    moved += ExerciseAttempt.objects.filter(learner=visitor).update(learner=learner)
    moved += PlanRecord.objects.filter(learner=visitor).update(learner=learner)
    # Shared snapshots too, so that the account can still delete or keep them.
    Share.objects.filter(owner=visitor).update(owner=learner)
    return moved > 0
