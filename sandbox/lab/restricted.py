"""Wall 1, the language (LAB.md): learner Python compiled by RestrictedPython, run with only
what a lesson needs, every attribute access checked against an allow-list.

RestrictedPython refuses at compile time: ``import``, names and attributes starting with ``_``
(so no dunder walk to ``__globals__`` or ``__subclasses__``), ``exec``/``eval`` statements and
frame attributes. What it turns into calls (``_getattr_``, ``_getitem_``, ``_write_``,
``_getiter_``, ``_print_``…) is defined here:

- ``_getattr_`` answers only names on an allow-list per kind of object: the public QuerySet API
  on managers and querysets (never ``using``, ``db``, ``model`` or ``query`` internals), the
  fields and relations of model instances, plain methods of str/list/dict/numbers/dates (never
  ``str.format``/``format_map``), ``args`` of exceptions, ``atomic`` of ``transaction``
  (ormnames.py). Nothing handed in leads to a module,
  a connection, settings or the app registry.
- the builtins are a short explicit list: no ``type``, ``getattr``, ``vars``, ``globals``,
  ``open``, ``__import__``, ``eval``, ``exec``, ``compile``, ``dir``, ``help``, ``input``.
"""

from __future__ import annotations

import ast
import builtins
import datetime
import decimal
import operator
import uuid
from collections.abc import Callable
from typing import Any

from RestrictedPython import compile_restricted_exec
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from sandbox.lab import ormnames

RESULT_NAME = "querylab_result"


class Refused(Exception):
    """Learner code asked for something the lab does not hand out."""


class LimitHit(BaseException):
    """A bound of the run was reached (statements, output). A BaseException, so learner code's
    ``except Exception`` does not swallow it; the child also ends the run itself."""

    def __init__(self, bound: str, message: str):
        super().__init__(message)
        self.bound = bound
        self.message = message


# -- compiling -----------------------------------------------------------------------------------


class CompileProblem(Exception):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.message = message
        self.line = line


def compile_code(source: str, filename: str = "<lab>"):
    """Compile learner code; the value of a last bare expression is kept in RESULT_NAME."""
    try:
        tree = ast.parse(source, filename=filename, mode="exec")
    except SyntaxError as exc:
        raise CompileProblem(f"SyntaxError: {exc.msg}", exc.lineno) from None
    for node in ast.walk(tree):
        # RestrictedPython compiles an import into a call of __import__, which the lab does
        # not hand in; refusing it here gives a clear message before anything runs.
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            raise CompileProblem(
                "Not allowed in the lab: import. The models, F, Q, the aggregates and the "
                "common functions are already there.",
                node.lineno,
            )
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body[-1]
        call = last.value
        is_print = (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "print"
        )
        if not is_print:
            assign = ast.Assign(targets=[ast.Name(RESULT_NAME, ast.Store())], value=last.value)
            ast.copy_location(assign, last)
            tree.body[-1] = assign
            ast.fix_missing_locations(tree)
    result = compile_restricted_exec(tree, filename=filename)
    if result.errors:
        first = result.errors[0]
        line = None
        if first.startswith("Line "):
            head = first[5:].split(":", 1)[0]
            line = int(head) if head.isdigit() else None
        message = first.split(": ", 1)[1] if ": " in first else first
        raise CompileProblem(f"Not allowed in the lab: {message}", line)
    return result.code


# -- the attribute allow-list --------------------------------------------------------------------

QUERYSET_METHODS = frozenset(
    [
        "all",
        "filter",
        "exclude",
        "annotate",
        "alias",
        "order_by",
        "reverse",
        "distinct",
        "values",
        "values_list",
        "dates",
        "datetimes",
        "none",
        "union",
        "intersection",
        "difference",
        "select_related",
        "prefetch_related",
        "extra",
        "defer",
        "only",
        "select_for_update",
        "raw",
        "get",
        "create",
        "get_or_create",
        "update_or_create",
        "bulk_create",
        "bulk_update",
        "count",
        "in_bulk",
        "iterator",
        "latest",
        "earliest",
        "first",
        "last",
        "aggregate",
        "exists",
        "contains",
        "update",
        "delete",
        "explain",
        "ordered",
        "add",
        "remove",
        "clear",
        "set",
        "query",
    ]
)
EXPRESSION_METHODS = frozenset(
    ["asc", "desc", "bitand", "bitor", "bitxor", "bitleftshift", "bitrightshift", "bitxor"]
)
VALUE_BLOCKED = frozenset({"format", "format_map", "mro"})
VALUE_TYPES = (
    str,
    bytes,
    int,
    float,
    complex,
    bool,
    list,
    dict,
    tuple,
    set,
    frozenset,
    decimal.Decimal,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    range,
)
INSTANCE_METHODS = frozenset({"save", "delete", "refresh_from_db", "pk"})
# Classes handed to learner code whose own attributes may be read (constructors, constants).
VALUE_CLASSES = (datetime.date, datetime.datetime, datetime.timedelta, decimal.Decimal)


class AllowList:
    """Which attributes learner code may read, per kind of object."""

    def __init__(self, model_classes: dict[str, type]):
        from django.db import models
        from django.db.models.query import QuerySet, RawQuerySet

        self.models = models
        self.QuerySet = QuerySet
        self.RawQuerySet = RawQuerySet
        self.model_classes = tuple(model_classes.values())
        self.instance_names: dict[type, frozenset[str]] = {}
        for model in self.model_classes:
            names = set(INSTANCE_METHODS)
            for field in model._meta.get_fields():
                accessor = (
                    field.get_accessor_name()
                    if field.auto_created
                    and not field.concrete
                    and hasattr(field, "get_accessor_name")
                    else field.name
                )
                if accessor:
                    names.add(accessor)
                if getattr(field, "attname", None):
                    names.add(field.attname)
            # Methods and properties the instructor wrote on the model (trusted code).
            for name, value in vars(model).items():
                if not name.startswith("_") and (callable(value) or isinstance(value, property)):
                    names.add(name)
            self.instance_names[model] = frozenset(n for n in names if not n.startswith("_"))

    def allows(self, obj: Any, name: str) -> bool:
        if name.startswith("_"):
            return False
        if isinstance(obj, type):
            if obj in self.model_classes:
                return name in ("objects", "DoesNotExist", "MultipleObjectsReturned")
            # date.today(), datetime.fromisoformat(), Decimal("1.5").quantize…
            return obj in VALUE_CLASSES and name not in VALUE_BLOCKED
        return self._allows_instance(obj, name)

    def _allows_instance(self, obj: Any, name: str) -> bool:
        models = self.models
        if isinstance(obj, models.Model):
            allowed = self.instance_names.get(type(obj))
            # Besides fields and relations: what the query put on this instance (annotate()
            # values, Prefetch(to_attr=...) lists, extra(select=...) columns).
            return allowed is not None and (name in allowed or name in vars(obj))
        if isinstance(obj, (models.Manager, self.QuerySet)):
            return name in QUERYSET_METHODS
        if isinstance(obj, (models.Expression, models.Q, models.F)):
            return name in EXPRESSION_METHODS
        if isinstance(obj, BaseException):
            return name == "args"
        if isinstance(obj, ormnames.LabTransaction):
            return name == "atomic"
        if isinstance(obj, VALUE_TYPES):
            return name not in VALUE_BLOCKED
        return False


class QueryText:
    """What ``qs.query`` gives learner code: the SQL text to print, nothing else (the real
    Query object leads to compilers and connections)."""

    def __init__(self, text: str):
        self.text = text

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


# -- the globals of a run ------------------------------------------------------------------------


class Output:
    """Printed text, capped: past ``limit`` characters the run ends (``LimitHit``)."""

    def __init__(self, limit: int, on_limit: Callable[[str, str], None]):
        self.parts: list[str] = []
        self.size = 0
        self.limit = limit
        self.on_limit = on_limit

    def write(self, text: str) -> None:
        self.size += len(text)
        if self.size > self.limit:
            room = self.limit - (self.size - len(text))
            self.parts.append(text[: max(room, 0)])
            self.on_limit(
                "output",
                f"Output limit: a run may print at most {self.limit} characters, "
                "so it was stopped.",
            )
        self.parts.append(text)

    def text(self) -> str:
        return "".join(self.parts)


class _Printer:
    def __init__(self, output: Output):
        self.output = output

    def _call_print(self, *objects, sep=" ", end="\n", **kwargs):
        if kwargs:
            raise Refused("print() takes only sep= and end= in the lab")
        self.output.write(str(sep).join(str(obj) for obj in objects) + str(end))

    def __call__(self) -> str:
        return self.output.text()


_INPLACE = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "|=": operator.ior,
    "^=": operator.ixor,
    "&=": operator.iand,
}

SAFE_BUILTIN_NAMES = [
    "abs",
    "all",
    "any",
    "bool",
    "chr",
    "dict",
    "divmod",
    "enumerate",
    "filter",
    "float",
    "frozenset",
    "hash",
    "int",
    "isinstance",
    "iter",
    "len",
    "list",
    "map",
    "max",
    "min",
    "next",
    "ord",
    "pow",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "slice",
    "sorted",
    "str",
    "sum",
    "tuple",
    "zip",
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "Exception",
    "IndexError",
    "KeyError",
    "LookupError",
    "NameError",
    "StopIteration",
    "TypeError",
    "ValueError",
    "ZeroDivisionError",
]


def namespace(names: dict[str, Any], output: Output) -> dict[str, Any]:
    """The globals of one run: a dict of its own for what the code assigns, its ``print``,
    and ``names`` (``lab_names``) as its builtins. Learner code cannot reach the builtins dict
    (no names starting with ``_``, no ``globals()``), so ``names`` can be built once, in the
    warm worker, and shared by every run of a child: a child only reads it."""
    return {
        "__builtins__": names,
        "__name__": "lab",
        "_print_": lambda _getattr=None: _Printer(output),
    }


def lab_names(model_classes: dict[str, type], exceptions: dict[str, type]) -> dict[str, Any]:
    """What learner code can name: the guards RestrictedPython's compiled code calls, a short
    list of builtins, the ORM's expressions and functions, a few value classes, the lesson's
    models and the exceptions it may catch."""
    safe = {name: getattr(builtins, name) for name in SAFE_BUILTIN_NAMES}
    # Some C functions import through the caller's builtins (date.today() imports time).
    # Learner code cannot name __import__ (no names starting with _); this one hands out a few
    # already loaded modules, which learner code could not use anyway (modules are not on the
    # allow-list).
    safe["__import__"] = _internal_import
    names: dict[str, Any] = {**safe, **_guards(AllowList(model_classes)), **ormnames.orm_names()}
    names.update(
        date=datetime.date,
        datetime=datetime.datetime,
        timedelta=datetime.timedelta,
        Decimal=decimal.Decimal,
    )
    names.update(model_classes)
    names.update(exceptions)
    return names


def _guards(allow: AllowList) -> dict[str, Any]:
    """The functions RestrictedPython's compiled code calls for ``obj.name``, ``obj[key]``,
    ``obj.name = value``, iteration, unpacking and ``x += y``."""
    from django.db import models
    from django.db.models.query import QuerySet

    def guarded_getattr(obj: Any, name: str, default: Any = None) -> Any:
        if not isinstance(name, str) or not allow.allows(obj, name):
            raise Refused(f"The lab does not allow .{name} on {type(obj).__name__}")
        value = getattr(obj, name)
        if name == "query" and isinstance(obj, QuerySet):
            return QueryText(str(value))
        return value

    def guarded_getitem(obj: Any, key: Any) -> Any:
        if isinstance(key, str) and key.startswith("_"):
            raise Refused("The lab does not allow keys starting with _")
        return obj[key]

    def guarded_write(obj: Any) -> Any:
        if isinstance(obj, models.Model) and type(obj) in allow.model_classes:
            return _FieldWriter(obj, allow.instance_names[type(obj)])
        if isinstance(obj, (list, dict, set)):
            return obj
        raise Refused(f"The lab does not allow changing attributes of {type(obj).__name__}")

    def inplace(op: str, target: Any, value: Any) -> Any:
        return _INPLACE[op](target, value)

    return {
        "_getattr_": guarded_getattr,
        "_getitem_": guarded_getitem,
        "_write_": guarded_write,
        "_getiter_": iter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_inplacevar_": inplace,
        "_apply_": lambda function, *args, **kwargs: function(*args, **kwargs),
    }


_INTERNAL_IMPORTS = frozenset({"time", "_strptime", "calendar", "math", "locale", "_datetime"})


def _internal_import(name, globals=None, locals=None, fromlist=(), level=0):
    import sys

    if name in _INTERNAL_IMPORTS and name in sys.modules:
        return sys.modules[name]
    raise ImportError(f"import of {name} is not allowed in the lab")


class _FieldWriter:
    """``book.title = "x"``: only a model's own fields may be set."""

    def __init__(self, obj: Any, allowed: frozenset[str]):
        object.__setattr__(self, "obj", obj)
        object.__setattr__(self, "allowed", allowed)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self.allowed or name in INSTANCE_METHODS:
            raise Refused(f"The lab does not allow setting .{name}")
        setattr(self.obj, name, value)

    def __delattr__(self, name: str) -> None:
        raise Refused("The lab does not allow deleting attributes")
