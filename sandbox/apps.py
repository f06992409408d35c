from __future__ import annotations

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """Learner SQL in throwaway PostgreSQL schemas on a server of its own."""

    name = "sandbox"
