"""The ORM names learner code gets without imports (restricted.lab_names): expressions,
aggregates, window functions, database functions, django.contrib.postgres classes, a few
output field types, and ``transaction`` (``atomic()`` only).

Every class here builds SQL from its arguments (parameters are bound by Django, never pasted),
and on an instance of any of them learner code may read only ``restricted.EXPRESSION_METHODS``
(``asc``, ``desc``, …): the allow-list refuses ``source_expressions``, ``resolve_expression``,
``as_sql``, ``output_field`` and the rest, so nothing here leads to a compiler, a connection,
``_meta`` or a module. The classes themselves expose no attribute at all to learner code.
``RawSQL`` is the one whose SQL is text the learner writes, with its parameters bound by Django:
it reaches nothing ``raw()`` and ``extra()`` (on the allow-list already) do not, and the run's
one-statement check applies to the statement it ends up in.

The modules of django.contrib.postgres these names use (and the ones Django imports lazily
for ArrayField and range lookups) are loaded by ``warm.warm_up`` in the warm worker: a run
cannot import anything the worker has not loaded.
"""

from __future__ import annotations

from contextlib import ContextDecorator
from typing import Any

ORM_NAMES = [
    "F",
    "Q",
    "Value",
    "Count",
    "Sum",
    "Avg",
    "Max",
    "Min",
    "StdDev",
    "Variance",
    "Prefetch",
    "Subquery",
    "OuterRef",
    "Exists",
    "Case",
    "When",
    "ExpressionWrapper",
    "Window",
    "RowRange",
    "ValueRange",
    # output_field= of ExpressionWrapper, Cast, Value (instances: no attribute is readable)
    "IntegerField",
    "FloatField",
    "DecimalField",
    "DurationField",
    "CharField",
    "DateField",
]
WINDOW_NAMES = [
    "Rank",
    "DenseRank",
    "RowNumber",
    "Lag",
    "Lead",
    "FirstValue",
    "LastValue",
    "NthValue",
    "Ntile",
    "PercentRank",
    "CumeDist",
]
FUNCTION_NAMES = [
    "Coalesce",
    "Concat",
    "Lower",
    "Upper",
    "Length",
    "Greatest",
    "Least",
    "NullIf",
    "Cast",
    "ExtractYear",
    "ExtractMonth",
    "ExtractDay",
    "TruncDate",
    "TruncDay",
    "TruncWeek",
    "TruncMonth",
    "TruncYear",
    "Now",
    "Round",
    "Abs",
    "Substr",
    "Trim",
    "Replace",
    *WINDOW_NAMES,
]
POSTGRES_NAMES = [
    "ArrayAgg",
    "StringAgg",
    "BoolAnd",
    "BoolOr",
    "JSONBAgg",
    "SearchVector",
    "SearchQuery",
    "SearchRank",
    "SearchHeadline",
    "TrigramSimilarity",
    "ArraySubquery",
]
# The modules loaded in the warm worker for the names above and for the lookups Django
# registers (or imports lazily) for ArrayField, range fields, JSONField and search.
POSTGRES_MODULES = [
    "django.contrib.postgres.aggregates",
    "django.contrib.postgres.constraints",
    "django.contrib.postgres.expressions",
    "django.contrib.postgres.fields",
    "django.contrib.postgres.fields.array",
    "django.contrib.postgres.fields.ranges",
    "django.contrib.postgres.functions",
    "django.contrib.postgres.indexes",
    "django.contrib.postgres.lookups",
    "django.contrib.postgres.search",
]


class LabTransaction:
    """``transaction`` in learner code: ``atomic()`` only (a context manager or a decorator,
    as in Django). Not ``commit``, ``rollback``, ``set_autocommit``, ``on_commit``,
    ``savepoint*`` or ``get_connection``: they are not here, and the allow-list lets learner
    code read nothing but ``atomic`` on this object. ``using=`` is not taken (the lab has one
    database). In a run, an outermost block commits like the run's own writes do (they stay in
    the learner's sandbox until Reset); in Check, everything already runs inside a transaction
    that is rolled back, so a block is a savepoint."""

    __slots__ = ()

    def atomic(self, func: Any = None, *, savepoint: bool = True, durable: bool = False):
        block = _Block(bool(savepoint), bool(durable))
        if func is None:
            return block
        if not callable(func):
            raise TypeError("transaction.atomic() takes a function to wrap, or nothing")
        return block(func)

    def __repr__(self) -> str:
        return "<transaction: atomic() only>"


class _Block(ContextDecorator):
    """Django's ``Atomic``, closed in order or rolled back: a block that ends after the blocks
    around it (a generator suspended inside ``with atomic():`` and finalised later, e.g. after
    Check's own transaction ended) never commits or releases anything: it rolls back."""

    def __init__(self, savepoint: bool, durable: bool):
        from django.db import transaction

        self.savepoint = savepoint
        self.durable = durable
        self.block = transaction.atomic(savepoint=savepoint, durable=durable)
        self.depth = -1

    def _recreate_cm(self):
        return _Block(self.savepoint, self.durable)

    def __enter__(self):
        from django.db import connection

        self.depth = len(connection.atomic_blocks)
        return self.block.__enter__()

    def __exit__(self, exc_type, exc_value, traceback):
        from django.db import connection

        if not connection.in_atomic_block or len(connection.atomic_blocks) != self.depth + 1:
            connection.needs_rollback = True
        return self.block.__exit__(exc_type, exc_value, traceback)

    def __repr__(self) -> str:
        return "<transaction.atomic block>"


def orm_names() -> dict[str, Any]:
    from django.contrib.postgres import aggregates as pg_aggregates
    from django.contrib.postgres import expressions as pg_expressions
    from django.contrib.postgres import search as pg_search
    from django.db import models
    from django.db.models import functions
    from django.db.models.expressions import RawSQL
    from django.db.models.fields.json import KT

    names = {name: getattr(models, name) for name in ORM_NAMES}
    names.update({name: getattr(functions, name) for name in FUNCTION_NAMES})
    for name in POSTGRES_NAMES:
        for module in (pg_aggregates, pg_search, pg_expressions):
            if hasattr(module, name):
                names[name] = getattr(module, name)
                break
    names["KT"] = KT
    # SQL text with %s placeholders, its parameters bound by Django (lessons on raw SQL).
    names["RawSQL"] = RawSQL
    names["transaction"] = LabTransaction()
    return names
