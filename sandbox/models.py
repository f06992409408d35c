"""Sandbox records in the app database: whose sandbox, for which lesson, where it lives, and
the shared counters that bound runs across every process (runs per minute, runs at once).

The sandbox server itself is only ever touched through ``sandbox.runner``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from config.infra import logs
from config.infra.prepared import PreparedStatement, execute_lightly
from config.infra.sessions import clear_expired as clear_expired_sessions
from lessons.models import Lesson, Track
from sandbox import metrics, runner
from sandbox.statements import Statement

log = logging.getLogger(__name__)

USER_PREFIX = "user:"
SESSION_PREFIX = "session:"


class FixtureMissing(RuntimeError):
    """The lesson names a fixture file that is not there."""


# Lessons whose page has a sandbox: SQL lessons, and Django ORM lab lessons (sandbox/lab/).
SANDBOX_MODES = (Lesson.Mode.SQL_SANDBOX, Lesson.Mode.DJANGO_LAB)
LAB_SEED_PREFIX = "lab:"


def seed_name(lesson: Lesson) -> str:
    """What a lesson's sandboxes are seeded from, as kept in ``Sandbox.fixture``: its fixture
    file, or for a lab lesson ``lab:<models>+<fixture>`` (the tables Django makes for
    content/models/<models>.py, then the fixture's data)."""
    if lesson.mode == Lesson.Mode.DJANGO_LAB:
        return f"{LAB_SEED_PREFIX}{lesson.lab_models}+{lesson.fixture}"
    return lesson.fixture


def fixture_sql(name: str) -> str:
    """The SQL of a fixture under SANDBOX_FIXTURES_DIR ("" for none). Only plain file names,
    or a lab seed name (``seed_name``)."""
    if not name:
        return ""
    if name.startswith(LAB_SEED_PREFIX):
        from sandbox.lab import seeding

        models, _, data = name[len(LAB_SEED_PREFIX) :].partition("+")
        try:
            ddl = seeding.ddl_for(models)
        except seeding.ModelsBroken as exc:
            raise FixtureMissing(str(exc)) from exc
        return ddl + "\n" + fixture_sql(data)
    folder = Path(settings.SANDBOX_FIXTURES_DIR).resolve()
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        raise FixtureMissing(f"The sandbox fixture {name!r} is not in {folder}.")
    return path.read_text(encoding="utf-8")


def fixture_digest(sql_text: str) -> str:
    """Pooled sandboxes are seeded from a fixture's exact text, so a changed file is new."""
    return hashlib.sha256(sql_text.encode()).hexdigest()[:32]


class LimitReached(RuntimeError):
    """A shared limit (runs per minute, runs at once) refused the run; ``retry_after`` seconds.
    ``bound`` names the limit (counted in /metrics)."""

    def __init__(self, message: str, retry_after: int, bound: str = ""):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.bound = bound
        metrics.rejections.labels(bound=bound or "other").inc()


# -- runs per minute, per learner ------------------------------------------------------------


class RunCounter(models.Model):
    """Runs per learner per clock minute, shared by every worker through PostgreSQL."""

    learner_key = models.CharField(max_length=80)
    minute = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["learner_key", "minute"], name="run_counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.learner_key} @ {self.minute:%H:%M}: {self.count}"

    @classmethod
    def prune(cls) -> int:
        deleted, _ = cls.objects.filter(minute__lt=timezone.now() - timedelta(minutes=2)).delete()
        return deleted


def _count_run(learner_key: str = "%s") -> str:
    # One atomic statement: the ORM's get-then-set would lose counts between workers.
    table = connection.ops.quote_name(RunCounter._meta.db_table)
    return (
        f"WITH hit AS (INSERT INTO {table} (learner_key, minute, count) "
        f"VALUES ({learner_key}, date_trunc('minute', now()), 1) "
        "ON CONFLICT (learner_key, minute) "
        f"DO UPDATE SET count = {table}.count + 1 "
        "RETURNING count, 60 - extract(second FROM now())::int AS seconds_left)"
    )


def _check_rate(count: int, seconds_left: int) -> None:
    limit = settings.SANDBOX_RUNS_PER_MINUTE
    if count > limit:
        raise LimitReached(
            f"Runs per minute limit: at most {limit} runs a minute; "
            f"try again in {max(seconds_left, 1)} s.",
            max(seconds_left, 1),
            "runs_per_minute",
        )


# -- runs at once, per server ------------------------------------------------------------------

_SLOT_NAMESPACE = 0x51_4C_53  # "QLS": advisory-lock key space in the app database
_QUEUE_NAMESPACE = 0x51_4C_51  # "QLQ"
# Parameters: how many slots, the key space, the server's first key. LIMIT 1 stops at the
# first lock taken.
_TAKE_SLOT = (
    "SELECT s FROM generate_series(0, %s - 1) AS s WHERE pg_try_advisory_lock(%s, %s + s) LIMIT 1"
)


def _take(namespace: int, server: int, count: int) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_SLOT, [count, namespace, server * 10_000])
        row = cursor.fetchone()
    return None if row is None else row[0]


def _give_back(namespace: int, server: int, slot: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [namespace, server * 10_000 + slot])


@contextlib.contextmanager
def admitted(learner_key: str, server: int) -> Iterator[None]:
    """Count the learner's run and take a run slot on its server, in one round trip to the app
    database; then as ``run_slot``. Raises LimitReached for either limit."""
    with connection.cursor() as cursor:
        execute_lightly(
            cursor,
            f"{_count_run()} SELECT count, seconds_left, "
            f"CASE WHEN count <= %s THEN ({_TAKE_SLOT}) END FROM hit",
            [
                learner_key,
                settings.SANDBOX_RUNS_PER_MINUTE,
                settings.SANDBOX_CONCURRENT_RUNS,
                _SLOT_NAMESPACE,
                server * 10_000,
            ],
        )
        count, seconds_left, slot = cursor.fetchone()
    _check_rate(count, seconds_left)
    with run_slot(server, slot):
        yield


_LESSON_COLUMNS = (
    "id",
    "track_id",
    "slug",
    "step",
    "title",
    "mode",
    "fixture",
    "sandbox_languages",
    "lab_models",
    "is_published",
)
_TRACK_COLUMNS = ("id", "slug", "title", "is_published")


@dataclass
class Admission:
    """What ``admit`` found and took in its one round trip (see there)."""

    learner_key: str
    count: int
    seconds_left: int
    slot: int | None
    lesson: Lesson | None
    sandbox: Sandbox | None
    session_row: tuple | None = None  # what the session lookup found, when it was given one

    def give_back(self) -> None:
        """Undo the slot, for an admission that will not be used (the run it counted stays
        counted)."""
        if self.slot is not None and self.sandbox is not None:
            _give_back(_SLOT_NAMESPACE, self.sandbox.server, self.slot)
            self.slot = None


@functools.cache
def _admission_statement() -> tuple[PreparedStatement, int]:
    """``admit``'s statement, prepared on each app-database connection (it runs on every run:
    planning it cost several times what running it does), and where its sandbox columns
    start. The sandbox state and lesson mode are written into the text, not passed: with
    them as parameters the partial index on active sandboxes could not serve a generic plan,
    so PostgreSQL planned the statement anew every time."""
    quote = connection.ops.quote_name
    sandbox_columns = [field.column for field in Sandbox._meta.concrete_fields]
    columns = (
        [f"l.{quote(column)}" for column in _LESSON_COLUMNS]
        + [f"t.{quote(column)}" for column in _TRACK_COLUMNS]
        + [f"s.{quote(column)}" for column in sandbox_columns]
    )
    # Aliased, since the three tables share column names.
    select = ", ".join(f"{column} AS c{index}" for index, column in enumerate(columns))
    first = len(_LESSON_COLUMNS) + len(_TRACK_COLUMNS)
    sandbox_id = f"found.c{first + sandbox_columns.index('id')}"
    server = f"found.c{first + sandbox_columns.index('server')}"
    active, sandbox_mode = _literal(Sandbox.State.ACTIVE), _literal(Lesson.Mode.SQL_SANDBOX)
    lab_mode = _literal(Lesson.Mode.DJANGO_LAB)
    # $1 learner key, $2 track slug, $3 lesson slug, $4 runs a minute, $5 run slots, $6 the
    # slots' advisory-lock key space.
    body = (
        f"{_count_run('$1')}, found AS ("
        f"SELECT {select} FROM {quote(Lesson._meta.db_table)} l "
        f"JOIN {quote(Track._meta.db_table)} t ON t.id = l.track_id "
        f"LEFT JOIN {quote(Sandbox._meta.db_table)} s ON s.lesson_id = l.id "
        f"AND s.state = {active} AND s.learner_key = $1 "
        f"AND (l.mode = {sandbox_mode} OR l.mode = {lab_mode}) "
        "WHERE t.slug = $2 AND l.slug = $3 AND l.is_published AND t.is_published LIMIT 1) "
        f"SELECT hit.count, hit.seconds_left, CASE WHEN hit.count <= $4 AND {sandbox_id} "
        "IS NOT NULL THEN (SELECT g FROM generate_series(0, $5 - 1) AS g "
        f"WHERE pg_try_advisory_lock($6, {server} * 10000 + g) LIMIT 1) END, found.* "
        "FROM hit LEFT JOIN found ON true"
    )
    types = ["text", "text", "text", "integer", "integer", "integer"]
    return PreparedStatement("querylab_admit", types, body), first


def _literal(value: str) -> str:
    """A constant of the code (never input) as an SQL string literal."""
    if not value.replace("_", "").isalnum():
        raise ValueError(f"not a plain constant: {value!r}")
    return f"'{value}'"


def admit(
    learner_key: str, lesson_ref: str, session_lookup: tuple[str, list] | None = None
) -> Admission:
    """The hot path of every run, in one round trip to the app database: find the published
    lesson "<track>/<slug>" and the learner's active sandbox for it, count the run, and take a
    run slot on the sandbox's server (only when the rate allows and the sandbox exists).

    ``session_lookup`` is a statement and its parameters that read the request's session
    (``config.infra.sessions.SessionStore.lookup``): sent in the same round trip, its row (or None)
    comes back as ``session_row``. Nothing is checked here; ``held`` raises for the limits."""
    statement, first = _admission_statement()
    track_slug, _, slug = lesson_ref.partition("/")
    params = [
        learner_key,
        track_slug,
        slug,
        settings.SANDBOX_RUNS_PER_MINUTE,
        settings.SANDBOX_CONCURRENT_RUNS,
        _SLOT_NAMESPACE,
    ]
    session_row = None
    with connection.cursor() as cursor:
        # With a session lookup, two statements in one round trip: the session's row first.
        statement.execute(cursor, params, before=session_lookup)
        if session_lookup is not None:
            session_row = cursor.fetchone()
            cursor.nextset()
        count, seconds_left, slot, *values = cursor.fetchone()
    lesson = sandbox = None
    if values[0] is not None:
        lesson = _lesson_from_row(values[:first])
        if values[first] is not None:
            sandbox = Sandbox.from_db(
                connection.alias,
                [field.attname for field in Sandbox._meta.concrete_fields],
                values[first:],
            )
            sandbox.lesson = lesson
    return Admission(learner_key, count, seconds_left, slot, lesson, sandbox, session_row)


@contextlib.contextmanager
def held(admission: Admission) -> Iterator[tuple[Lesson | None, Sandbox | None]]:
    """Check the admission against the limits and hold its run slot as ``run_slot`` does.

    Yields ``(lesson, sandbox)``: the lesson (its track attached, without its rendered body) or
    None when there is no such published lesson; the sandbox (its lesson attached) or None when
    the learner has none for a sandbox lesson yet. Without a sandbox the run is counted but no
    slot is taken: the caller places the sandbox first (then ``run_slot(server)``). Raises
    LimitReached for either limit."""
    _check_rate(admission.count, admission.seconds_left)  # over the rate, no slot was taken
    if admission.sandbox is None:
        yield admission.lesson, None
        return
    with run_slot(admission.sandbox.server, admission.slot):
        yield admission.lesson, admission.sandbox


def _lesson_from_row(values: list) -> Lesson:
    values = list(values)
    languages = _LESSON_COLUMNS.index("sandbox_languages")
    if isinstance(values[languages], str):
        values[languages] = json.loads(values[languages])
    lesson = Lesson.from_db(connection.alias, list(_LESSON_COLUMNS), values[: len(_LESSON_COLUMNS)])
    lesson.track = Track.from_db(
        connection.alias, list(_TRACK_COLUMNS), values[len(_LESSON_COLUMNS) :]
    )
    return lesson


@contextlib.contextmanager
def run_slot(server: int, slot: int | None = None) -> Iterator[None]:
    """Hold one of SANDBOX_CONCURRENT_RUNS slots of a sandbox server for the length of a run.

    Slots are session advisory locks in the app database, so they are shared by every process
    and freed if a process dies. ``slot`` is one already taken (see ``admitted``). When all
    are taken the request waits in a queue of
    SANDBOX_QUEUE_LENGTH places for up to SANDBOX_QUEUE_WAIT_MS; a full queue or a long wait
    raises LimitReached (the API answers 429 with Retry-After).
    """
    if slot is None:
        slot = _take(_SLOT_NAMESPACE, server, settings.SANDBOX_CONCURRENT_RUNS)
    if slot is None:
        place = _take(_QUEUE_NAMESPACE, server, settings.SANDBOX_QUEUE_LENGTH)
        if place is None:
            raise LimitReached(
                "Concurrent runs limit: the sandbox server is busy and its queue is full; "
                "try again in a moment.",
                2,
                "queue_length",
            )
        try:
            deadline = time.monotonic() + settings.SANDBOX_QUEUE_WAIT_MS / 1000
            pause = 0.005
            while slot is None and time.monotonic() < deadline:
                time.sleep(pause)
                pause = min(pause * 2, 0.05)
                slot = _take(_SLOT_NAMESPACE, server, settings.SANDBOX_CONCURRENT_RUNS)
        finally:
            _give_back(_QUEUE_NAMESPACE, server, place)
        if slot is None:
            raise LimitReached(
                f"Concurrent runs limit: {settings.SANDBOX_CONCURRENT_RUNS} runs at once per "
                "sandbox server, and none finished in time; try again in a moment.",
                2,
                "concurrent_runs",
            )
    # The run's line is written after the slot is freed: for the API, after the response.
    with logs.held():
        try:
            yield
        finally:
            _give_back(_SLOT_NAMESPACE, server, slot)


# -- sandboxes -----------------------------------------------------------------------------------


@dataclass
class SweepReport:
    expired: int = 0
    half_made: int = 0
    orphans: int = 0
    oversized: int = 0
    pooled: int = 0
    overdue: int = 0
    sessions: int = 0
    errors: list[str] = field(default_factory=list)


class SandboxQuerySet(models.QuerySet):
    def active(self) -> SandboxQuerySet:
        return self.filter(state=Sandbox.State.ACTIVE)

    def expired(self) -> SandboxQuerySet:
        """Active sandboxes unused for longer than their learner kind allows."""
        now = timezone.now()
        users = now - timedelta(hours=settings.SANDBOX_EXPIRY_USER_HOURS)
        sessions = now - timedelta(hours=settings.SANDBOX_EXPIRY_SESSION_HOURS)
        return self.active().filter(
            Q(learner_key__startswith=USER_PREFIX, last_used_at__lt=users)
            | Q(last_used_at__lt=sessions) & ~Q(learner_key__startswith=USER_PREFIX)
            | Q(lesson__isnull=True)
        )

    def half_made(self) -> SandboxQuerySet:
        """Rows whose provisioning or dropping a crash interrupted."""
        stale = timezone.now() - timedelta(minutes=10)
        return self.filter(
            Q(state=Sandbox.State.PROVISIONING, created_at__lt=stale)
            | Q(state=Sandbox.State.DROPPING)
        )

    def of_learner(self, learner_key: str, lesson_ref: str) -> Sandbox | None:
        """The learner's active sandbox for a published sandbox lesson "<track>/<slug>"."""
        track, _, slug = lesson_ref.partition("/")
        return (
            self.active()
            .select_related("lesson__track")
            .filter(
                learner_key=learner_key,
                lesson__slug=slug,
                lesson__track__slug=track,
                lesson__mode__in=SANDBOX_MODES,
                lesson__is_published=True,
                lesson__track__is_published=True,
            )
            .first()
        )

    def adopt(self, from_key: str, to_key: str) -> int:
        """Give one learner's sandboxes to another (a visitor who signs in), except for
        lessons where the new owner already has one."""
        taken = self.active().filter(learner_key=to_key).values("lesson_id")
        return (
            self.active()
            .filter(learner_key=from_key)
            .exclude(lesson_id__in=taken)
            .update(learner_key=to_key)
        )

    def for_learner(self, learner_key: str, lesson: Lesson) -> Sandbox:
        """The learner's sandbox for a lesson: theirs, else a warm one, else a new one."""
        found = self.active().filter(learner_key=learner_key, lesson=lesson).first()
        if found is not None:
            return found
        return self.make_for_learner(learner_key, lesson)

    def make_for_learner(self, learner_key: str, lesson: Lesson) -> Sandbox:
        """A warm sandbox, else a new one, for a learner the caller knows has none for this
        lesson yet (the API has just looked). Should they have one after all (a concurrent
        request), that one is returned."""
        server = runner.server_for(learner_key)
        seed = fixture_sql(seed_name(lesson))
        digest = fixture_digest(seed)
        claimed = self._claim_warm(learner_key, lesson, server, digest)
        if claimed is not None:
            Sandbox.objects.refill_soon(server, seed_name(lesson))
            claimed.just_made = True
            return claimed
        sandbox = self.create(
            name=runner.new_sandbox_name(),
            server=server,
            fixture=seed_name(lesson),
            fixture_digest=digest,
            state=Sandbox.State.PROVISIONING,
        )
        try:
            runner.provision(server, sandbox.name, seed, lesson.sandbox_languages)
        except runner.SandboxUnavailable:
            runner.note_unavailable(server)
            # The row stays "provisioning" for the janitor: dropping needs the server too.
            raise
        except Exception:
            sandbox.drop()
            raise
        try:
            with transaction.atomic():
                self.filter(pk=sandbox.pk).update(
                    learner_key=learner_key, lesson=lesson, state=Sandbox.State.ACTIVE
                )
        except IntegrityError:
            # Another request of the same learner won the race: use theirs, drop ours.
            sandbox.drop()
            return self.active().get(learner_key=learner_key, lesson=lesson)
        Sandbox.objects.refill_soon(server, seed_name(lesson))
        sandbox.refresh_from_db()
        sandbox.lesson = lesson
        sandbox.just_made = True
        return sandbox

    def _claim_warm(
        self, learner_key: str, lesson: Lesson, server: int, digest: str
    ) -> Sandbox | None:
        """Take the oldest warm sandbox of this fixture for the learner: one UPDATE … RETURNING
        (SKIP LOCKED, so concurrent claims never wait for each other or take the same one)."""
        table = connection.ops.quote_name(Sandbox._meta.db_table)
        fields = Sandbox._meta.concrete_fields
        returning = ", ".join(connection.ops.quote_name(field.column) for field in fields)
        # A savepoint only when already inside a transaction (tests; callers that need one):
        # in autocommit the single statement is atomic on its own, without BEGIN/COMMIT.
        guard = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
        try:
            with guard, connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET learner_key = %s, lesson_id = %s, state = %s, "
                    "last_used_at = now() "
                    f"WHERE id = (SELECT id FROM {table} WHERE state = %s AND server = %s "
                    "AND fixture_digest = %s ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED) "
                    f"RETURNING {returning}",
                    [
                        learner_key,
                        lesson.pk,
                        Sandbox.State.ACTIVE,
                        Sandbox.State.READY,
                        server,
                        digest,
                    ],
                )
                row = cursor.fetchone()
        except IntegrityError:
            # Another request of the same learner got there first: theirs it is.
            return self.active().get(learner_key=learner_key, lesson=lesson)
        if row is None:
            return None
        warm = Sandbox.from_db(connection.alias, [field.attname for field in fields], row)
        warm.lesson = lesson
        if set(lesson.sandbox_languages) & set(runner.LANGUAGES):
            try:
                runner.grant_languages(server, warm.name, lesson.sandbox_languages)
            except Exception:
                warm.drop()
                raise
        return warm

    def grader_for(self, lesson: Lesson) -> Sandbox:
        """The sandbox that grades the lesson's exercises: a seed of its fixture shared by every
        learner, never changed (each check runs in a transaction that is rolled back)."""
        seed = fixture_sql(seed_name(lesson))
        digest = fixture_digest(seed)
        server = runner.server_for("grader")
        found = self.filter(state=Sandbox.State.GRADER, server=server, fixture_digest=digest)
        grader = found.order_by("pk").first()
        if grader is not None:
            runner.grant_languages(server, grader.name, lesson.sandbox_languages)
            return grader
        grader = self.create(
            name=runner.new_sandbox_name(),
            server=server,
            fixture=seed_name(lesson),
            fixture_digest=digest,
            state=Sandbox.State.PROVISIONING,
        )
        try:
            runner.provision(server, grader.name, seed, lesson.sandbox_languages)
        except Exception:
            grader.drop()
            raise
        self.filter(pk=grader.pk).update(state=Sandbox.State.GRADER)
        grader.state = Sandbox.State.GRADER
        return grader

    # -- warm pool ---------------------------------------------------------------------------

    def refill_pool(self, server: int = 0, fixtures: list[str] | None = None) -> int:
        """Top the warm pool up to SANDBOX_WARM_POOL_SIZE for each fixture (by default, those
        of published sandbox lessons). Returns how many sandboxes were made. With the pool off
        (size 0) no fixture is read."""
        if settings.SANDBOX_WARM_POOL_SIZE <= 0:
            return 0
        if fixtures is None:
            fixtures = sorted(
                {
                    seed_name(lesson)
                    for lesson in Lesson.objects.published()
                    .filter(mode__in=SANDBOX_MODES)
                    .only("mode", "fixture", "lab_models")
                }
            )
        made = 0
        for fixture in fixtures:
            try:
                seed = fixture_sql(fixture)
            except FixtureMissing as exc:
                log.warning("%s", exc)
                continue
            digest = fixture_digest(seed)
            waiting = self.filter(
                state=Sandbox.State.READY, server=server, fixture_digest=digest
            ).count()
            for _ in range(settings.SANDBOX_WARM_POOL_SIZE - waiting):
                sandbox = self.create(
                    name=runner.new_sandbox_name(),
                    server=server,
                    fixture=fixture,
                    fixture_digest=digest,
                    state=Sandbox.State.PROVISIONING,
                )
                try:
                    runner.provision(server, sandbox.name, seed)
                except Exception:
                    sandbox.drop()
                    raise
                self.filter(pk=sandbox.pk).update(state=Sandbox.State.READY)
                made += 1
        return made

    def refill_soon(self, server: int, fixture: str) -> None:
        """Refill one fixture's warm pool in the background, once at a time per process."""
        if settings.SANDBOX_WARM_POOL_SIZE <= 0 or not _refilling.acquire(blocking=False):
            return

        def refill() -> None:
            from django.db import close_old_connections

            try:
                Sandbox.objects.refill_pool(server, [fixture])
            except Exception:
                log.exception("refilling the sandbox warm pool failed")
            finally:
                close_old_connections()
                connection.close()
                _refilling.release()

        if settings.SANDBOX_REFILL_IN_BACKGROUND:
            threading.Thread(target=refill, name="sandbox-pool", daemon=True).start()
        else:
            _refilling.release()

    # -- the janitor --------------------------------------------------------------------------

    def sweep(self, batch: int = 200) -> SweepReport:
        """Drop expired and half-made sandboxes and orphans of this installation, reset the
        oversized, prune counters and refill the warm pool. Safe to run from several places."""
        report = SweepReport()
        stale = list(self.expired().values_list("pk", flat=True))
        report.expired = self.filter(pk__in=stale)._drop_in_batches(batch, report)
        report.half_made = self.half_made()._drop_in_batches(batch, report)
        report.half_made += self.stale_graders()._drop_in_batches(batch, report)
        for server in range(len(runner.sandbox_urls())):
            if not runner.server_answers(server):
                report.errors.append(f"server {server}: does not answer; skipped")
                continue
            try:
                report.overdue += runner.end_overdue_runs(server)
                report.orphans += self._drop_orphans(server, batch)
                report.oversized += self._reset_oversized(server)
                report.pooled += self.refill_pool(server)
            except runner.SandboxUnavailable as exc:
                report.errors.append(f"server {server}: {exc}")
        RunCounter.prune()
        report.sessions = clear_expired_sessions()  # a visitor's first run makes one
        return report

    def stale_graders(self) -> SandboxQuerySet:
        """Graders seeded from a fixture text that is no longer the file's (or no file)."""
        stale = []
        for pk, fixture, digest in self.filter(state=Sandbox.State.GRADER).values_list(
            "pk", "fixture", "fixture_digest"
        ):
            try:
                current = fixture_digest(fixture_sql(fixture))
            except FixtureMissing:
                current = None
            if current != digest:
                stale.append(pk)
        return self.filter(pk__in=stale)

    def _drop_in_batches(self, batch: int, report: SweepReport) -> int:
        dropped = 0
        rows = list(self.values_list("pk", "server", "name"))
        # Claim them first, so a learner's next run makes a new sandbox instead of using one
        # that is being dropped.
        self.filter(pk__in=[pk for pk, _, _ in rows]).update(state=Sandbox.State.DROPPING)
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            by_server: dict[int, list[tuple[int, str]]] = {}
            for pk, server, name in chunk:
                by_server.setdefault(server, []).append((pk, name))
            for server, items in by_server.items():
                try:
                    runner.drop(server, [name for _, name in items])
                except runner.SandboxUnavailable as exc:
                    report.errors.append(str(exc))
                    continue
                Sandbox.objects.filter(pk__in=[pk for pk, _ in items]).delete()
                dropped += len(items)
        return dropped

    def _drop_orphans(self, server: int, batch: int) -> int:
        present = runner.existing_names(server)
        known = set(
            self.filter(server=server, name__in=list(present)).values_list("name", flat=True)
        )
        orphans = sorted(present - known)
        for start in range(0, len(orphans), batch):
            runner.drop(server, orphans[start : start + batch])
        return len(orphans)

    def _reset_oversized(self, server: int) -> int:
        active = dict(self.active().filter(server=server).values_list("name", "pk"))
        if not active:
            return 0
        limit = settings.SANDBOX_DISK_LIMIT_MB * 1024 * 1024
        sizes = runner.disk_usage(server, list(active))
        over = [name for name, size in sizes.items() if size > limit]
        for sandbox in self.filter(name__in=over):
            sandbox.reset()
        return len(over)


_refilling = threading.Lock()


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
    # "user:<id>", "session:<random token kept in the session>", or "" in the warm pool.
    learner_key = models.CharField(max_length=80, blank=True)
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
                fields=["learner_key", "lesson"],
                condition=Q(state="active"),
                name="sandbox_one_active_per_learner_and_lesson",
            )
        ]
        indexes = [
            models.Index(fields=["state", "server", "fixture_digest"]),
            models.Index(fields=["state", "last_used_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.learner_key or 'pool'}, {self.lesson or self.fixture})"

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
        except runner.SandboxUnavailable:
            runner.note_unavailable(self.server)
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
        if lost and not runner.server_answers(self.server, fresh=True):
            metrics.unavailable.labels(server=self.server).inc()
            self._log(kind, statements, started, error, ["server_lost"], None)
            raise runner.SandboxUnavailable(f"the sandbox server went away ({error.message})")

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
        """Back to the lesson's fixture: take a fresh sandbox (warm if one waits), drop this."""
        lesson = self.lesson
        seed = fixture_sql(self.fixture)
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
                runner.grant_languages(self.server, new_name, languages)
                warm.delete()
        if warm is None:
            new_name = runner.new_sandbox_name()
            runner.provision(self.server, new_name, seed, languages)
        Sandbox.objects.filter(pk=self.pk).update(
            name=new_name, fixture_digest=digest, last_used_at=timezone.now(), disk_bytes=None
        )
        self.name = new_name
        self.fixture_digest = digest
        runner.drop(self.server, [old_name])
        if warm is not None:
            Sandbox.objects.refill_soon(self.server, self.fixture)

    def drop(self) -> None:
        """Drop from the server, then forget. A failure leaves the row for the janitor."""
        Sandbox.objects.filter(pk=self.pk).update(state=Sandbox.State.DROPPING)
        runner.drop(self.server, [self.name])
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
    def of(self, learner_key: str, lesson: Lesson) -> PlanRecordQuerySet:
        return self.filter(learner_key=learner_key, lesson=lesson).order_by("-created_at", "-pk")


class PlanRecord(models.Model):
    """One explained statement of a learner in a lesson's sandbox; the last
    SANDBOX_PLANS_KEPT per learner and lesson are kept, for comparing before and after."""

    learner_key = models.CharField(max_length=80)
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="+")
    sql = models.TextField()
    plan = models.JSONField()
    text = models.TextField()
    total_ms = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now)

    objects = PlanRecordQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["learner_key", "lesson", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.learner_key} {self.lesson_id} {self.created_at:%H:%M:%S}"

    @classmethod
    def keep(cls, learner_key: str, lesson: Lesson, sql: str, plan, text: str, total_ms: float):
        """Record a plan and forget the learner's oldest beyond the bound."""
        record = cls.objects.create(
            learner_key=learner_key,
            lesson=lesson,
            sql=sql,
            plan=plan,
            text=text,
            total_ms=total_ms,
        )
        stale = cls.objects.of(learner_key, lesson).values_list("pk", flat=True)[
            settings.SANDBOX_PLANS_KEPT :
        ]
        cls.objects.filter(pk__in=list(stale)).delete()
        return record


# -- graded exercises ----------------------------------------------------------------------------


class ExerciseAttempt(models.Model):
    """One "Check" of a learner's answer to an exercise, or a request to see its solution.

    ``learner_key`` is the sandbox's learner key ("user:<id>" or "session:<token>")."""

    class Kind(models.TextChoices):
        CHECK = "check", "Checked an answer"
        SOLUTION = "solution", "Asked for the solution"

    learner_key = models.CharField(max_length=80, db_index=True)
    exercise = models.ForeignKey(
        "lessons.Exercise", on_delete=models.CASCADE, related_name="attempts"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CHECK)
    sql = models.TextField(blank=True)
    passed = models.BooleanField(default=False)
    feedback = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["learner_key", "exercise", "-created"])]

    def __str__(self) -> str:
        return f"{self.learner_key} {self.exercise_id} {'pass' if self.passed else self.kind}"

    @classmethod
    def passed_by(cls, learner_key: str, exercise) -> bool:
        return cls.objects.filter(
            learner_key=learner_key, exercise=exercise, kind=cls.Kind.CHECK, passed=True
        ).exists()

    @classmethod
    def passed_all(cls, learner_key: str, lesson) -> bool:
        """Whether the learner has passed every active exercise of `lesson`."""
        wanted = set(lesson.exercises.filter(is_active=True).values_list("pk", flat=True))
        passed = set(
            cls.objects.filter(
                learner_key=learner_key, exercise__lesson=lesson, kind=cls.Kind.CHECK, passed=True
            ).values_list("exercise_id", flat=True)
        )
        return bool(wanted) and wanted <= passed

    @classmethod
    def solution_seen(cls, learner_key: str, exercise) -> bool:
        return cls.objects.filter(
            learner_key=learner_key, exercise=exercise, kind=cls.Kind.SOLUTION
        ).exists()

    @classmethod
    def grade(cls, learner_key: str, exercise, sql: str):
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
        return cls.record(learner_key, exercise, sql, verdict.passed, feedback), verdict

    @classmethod
    def record(cls, learner_key: str, exercise, sql: str, passed: bool, feedback: list[str]):
        """Save a checked answer (the view then records the lesson's progress)."""
        return cls.objects.create(
            learner_key=learner_key, exercise=exercise, sql=sql, passed=passed, feedback=feedback
        )
