from __future__ import annotations

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """Learner SQL in throwaway PostgreSQL schemas on a server of its own."""

    name = "sandbox"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        user_logged_in.connect(_adopt_visitor_sandboxes, dispatch_uid="sandbox-adopt")


def _adopt_visitor_sandboxes(sender, request, user, **kwargs) -> None:
    """Sandboxes made before signing in follow the learner into their account (the session's
    sandbox token survives the session key's rotation at log-in)."""
    from sandbox.models import Sandbox

    token = request.session.get("sandbox_learner") if request is not None else None
    if token:
        Sandbox.objects.adopt(f"session:{token}", f"user:{user.pk}")
