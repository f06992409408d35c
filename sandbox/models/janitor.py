"""The janitor: drops expired, half-made and orphaned sandboxes, resets the oversized,
prunes counters and expired sessions, and refills the warm pool (``Sandbox.objects.sweep``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import models
from django.utils import timezone

from lessons.models import Lesson
from sandbox import roles, servers
from sandbox.models.limits import RunCounter
from sandbox.models.seeds import (
    SANDBOX_MODES,
    FixtureMissing,
    fixture_digest,
    published_seed,
    seed_name,
)
from sandbox.models.shares import Share

if TYPE_CHECKING:
    from sandbox.models.records import SandboxQuerySet


@dataclass
class SweepReport:
    expired: int = 0
    half_made: int = 0
    orphans: int = 0
    oversized: int = 0
    pooled: int = 0
    overdue: int = 0
    sessions: int = 0
    shares: int = 0
    stale: int = 0  # warm sandboxes of a fixture version no published lesson uses any more
    errors: list[str] = field(default_factory=list)


class JanitorQuerySet(models.QuerySet):
    def sweep(self, batch: int = 200) -> SweepReport:
        """Drop expired and half-made sandboxes and orphans of this installation, reset the
        oversized, prune counters and refill the warm pool. Safe to run from several places."""
        report = SweepReport()
        stale = list(self.expired().values_list("pk", flat=True))
        report.expired = self.filter(pk__in=stale)._drop_in_batches(batch, report)
        report.half_made = self.half_made()._drop_in_batches(batch, report)
        report.half_made += self.stale_graders()._drop_in_batches(batch, report)
        report.stale += self.stale_warm()._drop_in_batches(batch, report)
        for server in range(len(servers.sandbox_urls())):
            if not servers.server_answers(server):
                report.errors.append(f"server {server}: does not answer; skipped")
                continue
            try:
                report.overdue += servers.end_overdue_runs(server)
                report.orphans += self._drop_orphans(server, batch)
                report.oversized += self._reset_oversized(server)
                report.pooled += self.refill_pool(server)
            except servers.SandboxUnavailable as exc:
                report.errors.append(f"server {server}: {exc}")
        RunCounter.prune()
        # As Django's clearsessions, counted: a visitor's first run makes a session, and
        # nothing else removes them.
        report.sessions, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
        report.shares, _ = Share.objects.expired().delete()
        return report

    def stale_graders(self) -> SandboxQuerySet:
        """Graders seeded from a fixture text that is no longer the file's (or no file)."""
        stale = []
        for pk, fixture, digest in self.filter(state=self.model.State.GRADER).values_list(
            "pk", "fixture", "fixture_digest"
        ):
            try:
                current = fixture_digest(published_seed(fixture))
            except FixtureMissing:
                current = None
            if current != digest:
                stale.append(pk)
        return self.filter(pk__in=stale)

    def stale_warm(self) -> SandboxQuerySet:
        """Warm sandboxes no learner will claim: seeded from an older text of their fixture,
        or from a fixture that no published sandbox lesson names any more."""
        lessons = Lesson.objects.published().filter(mode__in=SANDBOX_MODES)
        wanted = {seed_name(lesson) for lesson in lessons.only("mode", "fixture", "lab_models")}
        current: dict[str, str | None] = {}
        stale = []
        warm = self.filter(state=self.model.State.READY)
        for pk, fixture, digest in warm.values_list("pk", "fixture", "fixture_digest"):
            if fixture not in current:
                try:
                    current[fixture] = fixture_digest(published_seed(fixture))
                except FixtureMissing:
                    current[fixture] = None
            if fixture not in wanted or current[fixture] != digest:
                stale.append(pk)
        return self.filter(pk__in=stale)

    def _drop_in_batches(self, batch: int, report: SweepReport) -> int:
        dropped = 0
        rows = list(self.values_list("pk", "server", "name"))
        # Claim them first, so a learner's next run makes a new sandbox instead of using one
        # that is being dropped.
        self.filter(pk__in=[pk for pk, _, _ in rows]).update(state=self.model.State.DROPPING)
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            by_server: dict[int, list[tuple[int, str]]] = {}
            for pk, server, name in chunk:
                by_server.setdefault(server, []).append((pk, name))
            for server, items in by_server.items():
                try:
                    roles.drop(server, [name for _, name in items])
                except servers.SandboxUnavailable as exc:
                    report.errors.append(str(exc))
                    continue
                self.model.objects.filter(pk__in=[pk for pk, _ in items]).delete()
                dropped += len(items)
        return dropped

    def _drop_orphans(self, server: int, batch: int) -> int:
        present = roles.existing_names(server)
        known = set(
            self.filter(server=server, name__in=list(present)).values_list("name", flat=True)
        )
        orphans = sorted(present - known)
        for start in range(0, len(orphans), batch):
            roles.drop(server, orphans[start : start + batch])
        return len(orphans)

    def _reset_oversized(self, server: int) -> int:
        active = dict(self.active().filter(server=server).values_list("name", "pk"))
        if not active:
            return 0
        limit = settings.SANDBOX_DISK_LIMIT_MB * 1024 * 1024
        sizes = roles.disk_usage(server, list(active))
        over = [name for name, size in sizes.items() if size > limit]
        for sandbox in self.filter(name__in=over):
            sandbox.reset()
        return len(over)
