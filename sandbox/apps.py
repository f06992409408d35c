from __future__ import annotations

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """Learner SQL in throwaway PostgreSQL schemas on a server of its own."""

    name = "sandbox"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from config.infra import health
        from config.infra import metrics as site_metrics
        from lessons.content.checks import register_check
        from sandbox import lesson_checks, metrics, servers

        user_logged_in.connect(_adopt_visitor_sandboxes, dispatch_uid="sandbox-adopt")
        health.register_check("sandbox", servers.status)
        site_metrics.register_gauges(metrics.gauges)
        register_check(lesson_checks.content_check)


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
