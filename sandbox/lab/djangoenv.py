"""The lab's own Django: configured from nothing, never from config.settings.

Used by the lab worker and by the DDL helper process (``seeding``). It holds no secret: no
SECRET_KEY worth anything, no app database; the one database alias is built per run in the
child from what the web process sent for that learner.
"""

from __future__ import annotations

import importlib.util
import re
import secrets
import sys
from pathlib import Path
from types import ModuleType

APP_MODULE = "sandbox.lab.models_app"
_MODEL_MODULE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


def configure() -> None:
    """settings.configure() with what lesson models need, then django.setup()."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        # Not the site's: nothing in the worker signs anything, so a random one per process.
        SECRET_KEY=secrets.token_hex(32),
        INSTALLED_APPS=["django.contrib.postgres", f"{APP_MODULE}.apps.LabModelsConfig"],
        # One alias, filled in per run in the child with the learner's role (``use_role``).
        DATABASES={"default": database({"dbname": "", "user": "", "password": ""}, "")},
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        LOGGING_CONFIG=None,
    )
    django.setup()
    # contrib.postgres (kept for its lookups: __search, __trigram_similar, __unaccent) looks
    # up the hstore and citext types on every new connection: two round trips per run for
    # types the lab's models do not use.
    from django.contrib.postgres.signals import register_type_handlers
    from django.db.backends.signals import connection_created

    connection_created.disconnect(register_type_handlers)


def load_models(models_dir: Path, name: str) -> ModuleType:
    """Import content/models/<name>.py as ``sandbox.lab.models_app.<name>`` (app ``lab``)."""
    if not _MODEL_MODULE_NAME.match(name):
        raise ValueError(f"not a model module name: {name!r}")
    module_name = f"{APP_MODULE}.{name}"
    loaded = sys.modules.get(module_name)
    if loaded is not None:
        return loaded
    path = (models_dir / f"{name}.py").resolve()
    if path.parent != models_dir.resolve() or not path.is_file():
        raise FileNotFoundError(f"no model module {name!r} in {models_dir}")
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def model_classes(module: ModuleType) -> dict:
    """The concrete models a module defines, by class name."""
    from django.db import models

    return {
        value.__name__: value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, models.Model)
        and value.__module__ == module.__name__
        and not value._meta.abstract
    }


def use_role(params: dict, options: str) -> None:
    """Point the one alias at a learner's role (in the child, before anything connects)."""
    from django.db import connection

    connection.settings_dict.update(database(params, options))


def database(params: dict, options: str) -> dict:
    """The one DATABASES entry of a run: the learner's role, nothing else."""
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": params["dbname"],
        "USER": params["user"],
        "PASSWORD": params["password"],
        "HOST": params.get("host", ""),
        "PORT": str(params.get("port", "")),
        "CONN_MAX_AGE": 0,
        "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False,
        "CONN_HEALTH_CHECKS": False,
        "TIME_ZONE": None,
        "OPTIONS": {
            # TimeZone at login: otherwise Django sets it with set_config(), which the sandbox
            # revokes from learner roles.
            "options": f"{options} -c TimeZone=UTC".strip(),
            "application_name": "querylab-lab",
            # No server-side prepared statements: a keeper's connection is used by one process
            # after another, each unaware of what the last one prepared.
            "prepare_threshold": None,
            "connect_timeout": 3,
        },
        "TEST": {},
    }
