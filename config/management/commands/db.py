"""`manage.py db start|stop|status|url`: the embedded PostgreSQL servers under .data/."""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError

from config.infra import embedded

VARIABLES = {"app": "DATABASE_URL", "sandbox": "SANDBOX_DATABASE_URL"}


class Command(BaseCommand):
    help = "Start, stop or inspect the embedded PostgreSQL servers (app and sandbox)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["start", "stop", "status", "url"])
        parser.add_argument(
            "server", nargs="?", choices=[*embedded.SERVER_NAMES, "all"], default="all"
        )

    def handle(self, *args, action: str, server: str, **options):
        names = embedded.SERVER_NAMES if server == "all" else (server,)
        for name in names:
            variable = VARIABLES[name]
            if os.environ.get(variable):
                self.stdout.write(f"{name}: {variable} is set, so nothing embedded is used.")
                continue
            instance = embedded.server(name)
            try:
                getattr(self, f"_{action}")(instance)
            except embedded.EmbeddedDatabaseError as exc:
                raise CommandError(str(exc)) from exc

    def _start(self, instance: embedded.Server) -> None:
        instance.ensure()
        self.stdout.write(f"{instance.name}: running on {_where(instance)}")

    def _stop(self, instance: embedded.Server) -> None:
        stopped = instance.stop()
        self.stdout.write(f"{instance.name}: {'stopped' if stopped else 'was not running'}")

    def _status(self, instance: embedded.Server) -> None:
        if instance.read_state() is None:
            self.stdout.write(f"{instance.name}: not initialised ({instance.pgdata})")
        elif instance.is_running():
            self.stdout.write(f"{instance.name}: running on {_where(instance)}")
        else:
            self.stdout.write(f"{instance.name}: stopped ({instance.pgdata})")

    def _url(self, instance: embedded.Server) -> None:
        self.stdout.write(instance.url())


def _where(instance: embedded.Server) -> str:
    state = instance.read_state() or {}
    return f"127.0.0.1:{state.get('port')} (data in {instance.pgdata})"
