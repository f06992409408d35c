"""The value of a lab run's last expression as a table the page can show: a queryset, a list
of rows or objects, a number. Pure functions."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any


def result_table(value: Any, max_rows: int) -> dict | None:
    """The value of the last expression as ``{"columns", "types", "rows", "truncated"}``."""
    from django.db import models
    from django.db.models.query import QuerySet, RawQuerySet

    from sandbox.lab.restricted import QueryText

    if value is None:
        return None
    if isinstance(value, QueryText):
        return table_of(["query"], [[str(value)]], max_rows)
    if isinstance(value, (QuerySet, RawQuerySet)):
        value = list(value)
    if isinstance(value, models.Manager):
        value = list(value.all())
    if isinstance(value, models.Model):
        value = [value]
    if isinstance(value, dict):
        return table_of([str(k) for k in value], [list(value.values())], max_rows)
    if isinstance(value, (list, tuple, set, frozenset)) and not _is_scalar_row(value):
        items = list(value)
        if not items:
            return table_of(["value"], [], max_rows)
        first = items[0]
        if isinstance(first, models.Model):
            columns = _model_columns(first)
            rows = [[getattr(item, c, None) for c in columns] for item in items]
            return table_of(columns, rows, max_rows)
        if isinstance(first, dict):
            columns = [str(k) for k in first]
            return table_of(columns, [[item.get(c) for c in first] for item in items], max_rows)
        if isinstance(first, (list, tuple)):
            fields = getattr(first, "_fields", None)
            width = max(len(item) for item in items if isinstance(item, (list, tuple)))
            columns = list(fields) if fields else [str(n + 1) for n in range(width)]
            return table_of(columns, [list(item) for item in items], max_rows)
        return table_of(["value"], [[item] for item in items], max_rows)
    if isinstance(value, (list, tuple)):
        return table_of(["value"], [[item] for item in value], max_rows)
    return table_of(["value"], [[value]], max_rows)


def _is_scalar_row(value) -> bool:
    return False


def _model_columns(instance) -> list[str]:
    return [field.attname for field in instance._meta.concrete_fields]


def table_of(columns: list[str], rows: list[list], max_rows: int) -> dict:
    truncated = len(rows) > max_rows
    rows = [[_cell(v) for v in row] for row in rows[:max_rows]]
    types = []
    for index in range(len(columns)):
        values = [row[index] for row in rows if index < len(row) and row[index] is not None]
        numeric = values and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) or _is_decimal_text(v)
            for v in values
        )
        types.append("numeric" if numeric else "text")
    return {"columns": columns, "types": types, "rows": rows, "truncated": truncated}


def _cell(value: Any) -> Any:
    from django.db import models

    if isinstance(value, decimal.Decimal):
        return _DecimalText(value)
    if isinstance(value, models.Model):
        return str(value)[:1000]
    if isinstance(value, (list, tuple, set, dict)):
        return str(value)[:1000]
    return json_value(value)


class _DecimalText(str):
    """A Decimal as text (JSON-safe, exact), remembered as a number for grading."""


def _is_decimal_text(value) -> bool:
    return isinstance(value, _DecimalText)


def json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return (
            value if value == value and value not in (float("inf"), float("-inf")) else str(value)
        )
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    text = str(value)
    return text[:1000]
