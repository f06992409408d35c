"""`manage.py sandbox janitor|pool|bootstrap`: look after the sandboxes on the sandbox server."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from sandbox import servers
from sandbox.models import Sandbox


class Command(BaseCommand):
    help = (
        "Look after learner sandboxes: janitor (drop expired and half-made ones), pool, bootstrap."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        janitor = sub.add_parser("janitor", help="Drop expired, half-made and orphaned sandboxes.")
        janitor.add_argument(
            "--every",
            type=int,
            default=0,
            metavar="SECONDS",
            help="Keep running, sweeping every SECONDS (for a process of its own).",
        )
        janitor.add_argument(
            "--heartbeat",
            metavar="PATH",
            help="Touch this file after every sweep (a health check can look at its age).",
        )
        sub.add_parser("pool", help="Top up the warm pool of pre-seeded sandboxes.")
        sub.add_parser("bootstrap", help="Create the provisioning role and revoke PUBLIC defaults.")

    def handle(self, *args, action: str, **options):
        try:
            if action == "bootstrap":
                for server in range(len(servers.sandbox_urls())):
                    version = servers.bootstrap(server)
                    self.stdout.write(f"server {server}: ready (PostgreSQL {version // 10000})")
            elif action == "pool":
                made = sum(
                    Sandbox.objects.refill_pool(server)
                    for server in range(len(servers.sandbox_urls()))
                )
                self.stdout.write(f"{made} warm sandbox(es) made")
            else:
                while True:
                    self._sweep()
                    if options["heartbeat"]:
                        Path(options["heartbeat"]).touch()
                    if not options["every"]:
                        break
                    time.sleep(options["every"])
        except servers.SandboxUnavailable as exc:
            raise CommandError(f"Sandbox unavailable: {exc}") from exc

    def _sweep(self) -> None:
        started = time.monotonic()
        report = Sandbox.objects.sweep()
        self.stdout.write(
            f"janitor: dropped {report.expired} expired, {report.half_made} half-made, "
            f"{report.orphans} orphaned, {report.stale} warm of old fixtures; "
            f"reset {report.oversized} oversized; "
            f"ended {report.overdue} overdue run(s); "
            f"{report.pooled} warm made; cleared {report.sessions} expired session(s) and "
            f"{report.shares} expired shared snapshot(s) "
            f"({time.monotonic() - started:.1f} s)"
        )
        for error in report.errors:
            self.stderr.write(f"janitor: {error}")
