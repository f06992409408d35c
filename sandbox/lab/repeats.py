"""N+1s: the statement shapes a run sent more than twice, and what would make them one."""

from __future__ import annotations

from collections import Counter


def repeated(queries: list[dict]) -> list[dict]:
    """Statement shapes sent more than twice, with a hint derived from the SQL when it can be."""
    counts = Counter(q["fingerprint"] for q in queries if q["fingerprint"])
    found = []
    for fingerprint, count in counts.items():
        if count <= 2:
            continue
        sample = next(q["sql"] for q in queries if q["fingerprint"] == fingerprint)
        if _is_bookkeeping(sample):
            continue
        found.append({"fingerprint": fingerprint, "count": count, "hint": hint(sample, count)})
    return found


def _is_bookkeeping(sql: str) -> bool:
    head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    return head in ("SAVEPOINT", "RELEASE")


def hint(sql: str, count: int) -> str:
    """ "The same query ran N times …", with select_related/prefetch_related when the shape of
    the SQL says which: ``WHERE <table>.id = %s LIMIT 21`` is a forward FK (the field that
    points to that table); ``WHERE <table>.<fk>_id = %s`` or ``IN (…)`` on a join table is a
    reverse FK or many-to-many."""
    base = f"The same query ran {count} times with different parameters: an N+1."
    suggestion = _suggestion(sql)
    if suggestion:
        return f"{base} {suggestion}"
    return (
        f"{base} Fetch the related rows with the first query: select_related() for a foreign "
        "key, prefetch_related() for the other side of a foreign key or a many-to-many."
    )


def _suggestion(sql: str) -> str | None:
    import pglast
    from django.apps import apps

    try:
        statement = pglast.parse_sql(sql)[0].stmt
    except Exception:
        return None
    if type(statement).__name__ != "SelectStmt" or not statement.fromClause:
        return None
    tables = [_table_name(item) for item in statement.fromClause]
    table = tables[0] if tables else None
    where = _where_column(statement.whereClause)
    if not table or not where:
        return None
    models = {m._meta.db_table: m for m in apps.get_app_config("lab").get_models()}
    target = models.get(table)
    joined = statement.fromClause[0]
    if type(joined).__name__ == "JoinExpr":
        # Book.tags.all(): SELECT tag … INNER JOIN book_tags … WHERE book_tags.book_id = %s
        through = _table_name(joined.rarg) if joined.rarg is not None else None
        for model in models.values():
            for field in model._meta.many_to_many:
                if field.remote_field.through._meta.db_table == through:
                    return (
                        f'`prefetch_related("{field.name}")` would make it two queries '
                        "(one for the list, one for all the related rows)."
                    )
    if target is None:
        return None
    column_table, column = where
    if column == target._meta.pk.column and _selects_some_columns(statement, target):
        # SELECT "lab_book"."id", "lab_book"."pages" … WHERE "lab_book"."id" = 20: a deferred
        # field loaded per object (only(), defer(), raw()), not a relation.
        return (
            "It loads a field the first query left out (`only()`, `defer()`, or a `raw()` "
            "that did not select it), once per object: select that field in the first query."
        )
    if column == target._meta.pk.column:
        for model in models.values():
            for field in model._meta.concrete_fields:
                if field.is_relation and field.related_model is target:
                    return f'`select_related("{field.name}")` would make it one.'
    for field in target._meta.concrete_fields:
        if field.is_relation and field.column == column:
            accessor = field.remote_field.get_accessor_name()
            return (
                f'`prefetch_related("{accessor}")` would make it two queries '
                "(one for the list, one for all the related rows)."
            )
    return None


def _selects_some_columns(statement, model) -> bool:
    """Whether the SELECT lists named columns, fewer than the model's concrete fields (a
    related object is loaded with all of them)."""
    targets = statement.targetList or ()
    for target in targets:
        value = getattr(target, "val", None)
        if type(value).__name__ != "ColumnRef":
            return False
        if any(type(field).__name__ == "A_Star" for field in value.fields):
            return False
    return 0 < len(targets) < len(model._meta.concrete_fields)


def _table_name(node) -> str | None:
    kind = type(node).__name__
    if kind == "RangeVar":
        return node.relname
    if kind == "JoinExpr":
        return _table_name(node.larg)
    return None


def _where_column(node) -> tuple[str | None, str] | None:
    kind = type(node).__name__
    if kind == "BoolExpr":
        for arg in node.args:
            found = _where_column(arg)
            if found:
                return found
        return None
    if kind == "A_Expr" and type(node.lexpr).__name__ == "ColumnRef":
        fields = [getattr(f, "sval", None) for f in node.lexpr.fields]
        fields = [f for f in fields if f]
        if not fields:
            return None
        return (fields[-2] if len(fields) > 1 else None, fields[-1])
    return None
