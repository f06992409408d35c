from __future__ import annotations

from django.apps import AppConfig


class LabModelsConfig(AppConfig):
    name = "sandbox.lab.models_app"
    label = "lab"
    default_auto_field = "django.db.models.BigAutoField"
