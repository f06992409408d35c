from __future__ import annotations

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """Learner SQL in throwaway PostgreSQL schemas on a server of its own."""

    name = "sandbox"

    def ready(self) -> None:
        from config.infra import companions, health
        from config.infra import metrics as site_metrics
        from lessons.analytics import register_section
        from lessons.content.checks import register_check
        from lessons.models import learner_absorbed
        from sandbox import analytics, lesson_checks, metrics, personal_data, servers
        from sandbox.lab import launch
        from sandbox.models.records import move_learner

        # A visitor who signs in keeps their sandboxes, attempts, plans and shared snapshots
        # (Learner.absorb).
        learner_absorbed.connect(move_learner, dispatch_uid="sandbox-move-learner")
        health.register_check("sandbox", servers.status)
        site_metrics.register_gauges(metrics.gauges)
        register_check(lesson_checks.content_check)
        register_section(analytics.ExercisesSection())
        personal_data.register()  # the account export and deletion (lessons/personal_data.py)
        companions.register_companion("sandbox janitor", _start_janitor)
        companions.register_companion(
            "lab worker", launch.start_beside_the_site, lambda worker: worker.stop()
        )


def _start_janitor():
    """Beside `serve`'s web server: sweep expired sandboxes and refill the warm pool every
    SANDBOX_JANITOR_INTERVAL_SECONDS (in production, `manage.py sandbox janitor --every`)."""
    import io
    import sys
    import threading

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    def sweep_forever() -> None:
        while True:
            try:
                call_command("sandbox", "janitor", stdout=io.StringIO())
            except Exception as exc:  # the site must not go down with its janitor
                print(f"sandbox janitor: {exc}", file=sys.stderr)
            finally:
                connection.close()
            threading.Event().wait(settings.SANDBOX_JANITOR_INTERVAL_SECONDS)

    thread = threading.Thread(target=sweep_forever, name="sandbox-janitor", daemon=True)
    thread.start()
    return thread
