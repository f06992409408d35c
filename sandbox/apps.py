from __future__ import annotations

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """Learner SQL in throwaway PostgreSQL schemas on a server of its own."""

    name = "sandbox"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from config.infra import companions, health
        from config.infra import metrics as site_metrics
        from lessons.content.checks import register_check
        from sandbox import lesson_checks, metrics, servers, shares
        from sandbox.lab import launch

        user_logged_in.connect(_adopt_visitor_sandboxes, dispatch_uid="sandbox-adopt")
        user_logged_in.connect(shares.adopt_visitor_shares, dispatch_uid="sandbox-adopt-shares")
        health.register_check("sandbox", servers.status)
        site_metrics.register_gauges(metrics.gauges)
        register_check(lesson_checks.content_check)
        companions.register_companion("sandbox janitor", _start_janitor)
        companions.register_companion(
            "lab worker", launch.start_beside_the_site, lambda worker: worker.stop()
        )


def _adopt_visitor_sandboxes(sender, request, user, **kwargs) -> None:
    """Sandboxes made before signing in follow the learner into their account (the session's
    sandbox token survives the session key's rotation at log-in)."""
    from sandbox.models import ExerciseAttempt, PlanRecord, Sandbox

    token = request.session.get("sandbox_learner") if request is not None else None
    if token:
        visitor, member = f"session:{token}", f"user:{user.pk}"
        Sandbox.objects.adopt(visitor, member)
        # Exercise attempts and kept plans follow too (progress code re-reads attempts).
        ExerciseAttempt.objects.filter(learner_key=visitor).update(learner_key=member)
        PlanRecord.objects.filter(learner_key=visitor).update(learner_key=member)


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
