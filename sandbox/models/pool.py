"""The warm pool: sandboxes seeded ahead of time and claimed by a learner's first run, and
the making of sandboxes when none waits (``Sandbox.objects`` has these methods)."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction

from lessons.models import Lesson
from sandbox import roles, servers
from sandbox.models.seeds import (
    SANDBOX_MODES,
    FixtureMissing,
    fixture_digest,
    lesson_seed,
    published_seed,
    seed_name,
)

if TYPE_CHECKING:
    from sandbox.models.records import Sandbox

log = logging.getLogger(__name__)


class WarmPoolQuerySet(models.QuerySet):
    def make_for_learner(self, learner_id: int, lesson: Lesson) -> Sandbox:
        """A warm sandbox, else a new one, for a learner the caller knows has none for this
        lesson yet (the API has just looked). Should they have one after all (a concurrent
        request), that one is returned."""
        server = servers.server_for(servers.learner_placement(learner_id))
        seed = lesson_seed(lesson)
        digest = fixture_digest(seed)
        claimed = self._claim_warm(learner_id, lesson, server, digest)
        if claimed is not None:
            self.model.objects.refill_soon(server, seed_name(lesson))
            claimed.just_made = True
            return claimed
        sandbox = self._provisioned(server, seed_name(lesson), seed, lesson.sandbox_languages)
        try:
            with transaction.atomic():
                self.filter(pk=sandbox.pk).update(
                    learner_id=learner_id, lesson=lesson, state=self.model.State.ACTIVE
                )
        except IntegrityError:
            # Another request of the same learner won the race: use theirs, drop ours.
            sandbox.drop()
            return self.active().get(learner_id=learner_id, lesson=lesson)
        self.model.objects.refill_soon(server, seed_name(lesson))
        sandbox.refresh_from_db()
        sandbox.lesson = lesson
        sandbox.just_made = True
        return sandbox

    def _claim_warm(
        self, learner_id: int, lesson: Lesson, server: int, digest: str
    ) -> Sandbox | None:
        """Take the oldest warm sandbox of this fixture for the learner: one UPDATE … RETURNING
        (SKIP LOCKED, so concurrent claims never wait for each other or take the same one)."""
        table = connection.ops.quote_name(self.model._meta.db_table)
        fields = self.model._meta.concrete_fields
        returning = ", ".join(connection.ops.quote_name(field.column) for field in fields)
        # A savepoint only when already inside a transaction (tests; callers that need one):
        # in autocommit the single statement is atomic on its own, without BEGIN/COMMIT.
        guard = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
        try:
            with guard, connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET learner_id = %s, lesson_id = %s, state = %s, "
                    "last_used_at = now() "
                    f"WHERE id = (SELECT id FROM {table} WHERE state = %s AND server = %s "
                    "AND fixture_digest = %s ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED) "
                    f"RETURNING {returning}",
                    [
                        learner_id,
                        lesson.pk,
                        self.model.State.ACTIVE,
                        self.model.State.READY,
                        server,
                        digest,
                    ],
                )
                row = cursor.fetchone()
        except IntegrityError:
            # Another request of the same learner got there first: theirs it is.
            return self.active().get(learner_id=learner_id, lesson=lesson)
        if row is None:
            return None
        warm = self.model.from_db(connection.alias, [field.attname for field in fields], row)
        warm.lesson = lesson
        if set(lesson.sandbox_languages) & set(servers.LANGUAGES):
            try:
                roles.grant_languages(server, warm.name, lesson.sandbox_languages)
            except Exception:
                warm.drop()
                raise
        return warm

    def grader_for(self, lesson: Lesson) -> Sandbox:
        """The sandbox that grades the lesson's exercises: a seed of its fixture shared by every
        learner, never changed (each check runs in a transaction that is rolled back)."""
        seed = lesson_seed(lesson)
        digest = fixture_digest(seed)
        server = servers.server_for("grader")
        found = self.filter(state=self.model.State.GRADER, server=server, fixture_digest=digest)
        grader = found.order_by("pk").first()
        if grader is not None:
            roles.grant_languages(server, grader.name, lesson.sandbox_languages)
            return grader
        grader = self._provisioned(server, seed_name(lesson), seed, lesson.sandbox_languages)
        self.filter(pk=grader.pk).update(state=self.model.State.GRADER)
        grader.state = self.model.State.GRADER
        return grader

    def _provisioned(
        self, server: int, fixture: str, seed: str, languages: Iterable[str] = ()
    ) -> Sandbox:
        """A new sandbox, made and seeded on ``server``, with its row still "provisioning" (the
        caller sets the state it is for): the one place a sandbox is made. A server that went
        away leaves the row for the janitor (dropping needs the server too); any other failure
        drops it."""
        sandbox = self.create(
            name=servers.new_sandbox_name(),
            server=server,
            fixture=fixture,
            fixture_digest=fixture_digest(seed),
            state=self.model.State.PROVISIONING,
        )
        try:
            roles.provision(server, sandbox.name, seed, languages)
        except roles.FixtureTooSlow:
            sandbox.drop()  # the server is fine; the fixture is too slow
            raise
        except servers.SandboxUnavailable:
            servers.note_unavailable(server)
            raise
        except Exception:
            sandbox.drop()
            raise
        return sandbox

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
                seed = published_seed(fixture)
            except FixtureMissing as exc:
                log.warning("%s", exc)
                continue
            digest = fixture_digest(seed)
            waiting = self.filter(
                state=self.model.State.READY, server=server, fixture_digest=digest
            ).count()
            for _ in range(settings.SANDBOX_WARM_POOL_SIZE - waiting):
                sandbox = self._provisioned(server, fixture, seed)
                self.filter(pk=sandbox.pk).update(state=self.model.State.READY)
                made += 1
        return made

    def refill_soon(self, server: int, fixture: str) -> None:
        """Refill one fixture's warm pool in the background, once at a time per process."""
        if settings.SANDBOX_WARM_POOL_SIZE <= 0 or not _refilling.acquire(blocking=False):
            return

        def refill() -> None:
            from django.db import close_old_connections

            try:
                self.model.objects.refill_pool(server, [fixture])
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


_refilling = threading.Lock()
