"""What the warm lab worker prepares once, before it forks anything, and what keepers and runs
reuse from it: the modules and caches a run needs (``warm_up``), the names learner code gets
per model module (``lab_names``), and compiled learner code by its source
(``compiled_code``, filled in a keeper for its one learner).

A child only reads what it inherits from here; what it changes is its own copy (fork), so
nothing of one run reaches another.
"""

from __future__ import annotations

import sys
from typing import Any


def warm_up() -> None:
    """Import and exercise what a run needs, in the warm parent: children fork with it loaded
    (and a child that dropped privileges may not be able to read the files any more)."""
    import importlib
    import json  # noqa: F401

    import pglast  # noqa: F401
    import psycopg  # noqa: F401

    from sandbox.lab import ormnames

    for module in ormnames.POSTGRES_MODULES:  # Django imports some lazily (lookups.py)
        importlib.import_module(module)
    from django.db import connection  # noqa: F401
    from django.db.backends.postgresql import (  # noqa: F401  # noqa: F401
        base,
        creation,
        features,
        introspection,
        operations,
        schema,
    )
    from django.db.models import functions  # noqa: F401
    from django.db.models.sql import compiler, subqueries  # noqa: F401

    from sandbox.lab import restricted

    code = restricted.compile_code("x = [1]\nfor y in x:\n    print(y)\nx")
    output = restricted.Output(100, lambda bound, message: None)
    exec(code, restricted.namespace(restricted.lab_names({}, {}), output))  # noqa: S102
    import traceback  # noqa: F401

    pglast.fingerprint("SELECT 1")
    pglast.parse_sql("SELECT 1")
    import encodings.idna  # noqa: F401
    import encodings.latin_1  # noqa: F401
    import json.decoder  # noqa: F401
    import json.encoder  # noqa: F401

    "é".encode("latin-1")
    import _strptime  # noqa: F401 - date/datetime parsing imports it on first use
    import calendar  # noqa: F401
    import time  # noqa: F401

    _warm_models()


def _warm_models() -> None:
    """Fill the caches Django builds on first use (each model's fields and relations, the
    compilers' SQL paths), so that children inherit them instead of each building them again;
    and the allow-list of each model module. No database is needed for any of it."""
    import sys

    from django.apps import apps
    from django.db.models import Count

    from sandbox.lab import djangoenv

    for name in list(sys.modules):
        if name.startswith(djangoenv.APP_MODULE + ".") and name.count(".") == 3:
            lab_names(name.rsplit(".", 1)[1])
    for model in apps.get_app_config("lab").get_models():
        manager = model._default_manager
        str(manager.all().query)
        str(manager.filter(pk=1).order_by("pk")[:20].query)
        relations = [f.name for f in model._meta.concrete_fields if f.is_relation]
        if relations:
            str(manager.select_related(*relations).query)
        reverse = [f.get_accessor_name() for f in model._meta.related_objects]
        if reverse:
            str(manager.annotate(n=Count(model._meta.related_objects[0].name)).query)


def lab_names(models: str) -> dict:
    """The names learner code gets for a model module (``restricted.lab_names``), built once
    per module in the warm worker (``warm_up``): a child only reads them."""
    from sandbox.lab import djangoenv, restricted

    names = _lab_names.get(models)
    if names is None:
        module = sys.modules.get(f"{djangoenv.APP_MODULE}.{models}")
        if module is None:
            raise restricted.Refused(f"The lab has no models {models!r}.")
        names = _lab_names[models] = restricted.lab_names(
            djangoenv.model_classes(module), _exceptions()
        )
    return names


_lab_names: dict[str, dict] = {}


def _exceptions() -> dict[str, type]:
    """The exceptions learner code may name (and catch)."""
    from django.core.exceptions import (
        FieldError,
        MultipleObjectsReturned,
        ObjectDoesNotExist,
        ValidationError,
    )
    from django.db import DatabaseError, DataError, IntegrityError, ProgrammingError

    return {
        "ObjectDoesNotExist": ObjectDoesNotExist,
        "MultipleObjectsReturned": MultipleObjectsReturned,
        "FieldError": FieldError,
        "ValidationError": ValidationError,
        "DatabaseError": DatabaseError,
        "IntegrityError": IntegrityError,
        "DataError": DataError,
        "ProgrammingError": ProgrammingError,
    }


def compiled_code(code: str):
    """``restricted.compile_code(code)``, from the cache when the same code was compiled in
    this process or before the fork that made it (a keeper compiles its learner's code before
    it forks the run: ``precompile``). Raises CompileProblem as compile_code does."""
    from sandbox.lab import restricted

    found = _compiled.get(code)
    if found is None:
        try:
            found = restricted.compile_code(code)
        except restricted.CompileProblem as exc:
            found = exc
        _compiled[code] = found
        while len(_compiled) > COMPILED_KEPT:
            del _compiled[next(iter(_compiled))]
    if isinstance(found, restricted.CompileProblem):
        raise found
    return found


# Compiled code by its source (a dict: by the source's hash), oldest first: in a keeper, its one
# learner's recent code only.
_compiled: dict[str, Any] = {}
COMPILED_KEPT = 16


def precompile(request: dict) -> None:
    """In a keeper, before it forks the run: compile the request's code (into ``_compiled``),
    so that the run, and the learner's next runs of the same code, need not. Compiling runs
    nothing; under the run's recursion limit, as in the run. Whatever goes wrong here the
    run meets again, and answers."""
    code = request.get("code")
    if request.get("op") != "run" or not isinstance(code, str):
        return
    depth = sys.getrecursionlimit()
    sys.setrecursionlimit(int((request.get("limits") or {}).get("recursion", 200)) + 60)
    try:
        compiled_code(code)
    except Exception:  # noqa: S110 - see the docstring
        pass
    finally:
        sys.setrecursionlimit(depth)
