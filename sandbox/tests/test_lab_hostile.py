# ruff: noqa: F811 (pytest fixtures imported from lab_support are arguments here)
"""The hostile-Python corpus (LAB.md): every item must end safely, and afterwards the same
learner and another learner can still run code, and the app's data and settings are untouched.

Each item names the wall that stopped it (``lang``: RestrictedPython and the allow-list;
``proc``: the worker's child and its OS limits; ``db``: the learner's own role, its startup
options and the one database alias). Which item each wall alone would let through is listed
in sandbox/lab/README.md ("Walls").
"""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from lessons.models import Lesson
from sandbox.models import Sandbox
from sandbox.tests.lab_support import (  # noqa: F401
    lab_client,
    lab_lesson,
    lab_run,
    lab_settings,
    lab_track,
    lab_worker,
)

REFUSED = "refused"  # compile-time refusal, or the allow-list / a missing name at run time
DENIED = "denied"  # the database said no (permission, not owner, no such schema/connection)
TIMEOUT = "timeout"  # statement_timeout named
ERROR = "error"  # any error, nothing leaked


def bound(name: str) -> str:
    return f"bound:{name}"


CORPUS: list[tuple[str, str, str, str]] = [
    # -- dunder attributes, frames, format strings, tracebacks -------------------------------
    ("subclasses", "lang", "().__class__.__bases__[0].__subclasses__()", REFUSED),
    ("class-of-list", "lang", "x = [].__class__", REFUSED),
    ("function-globals", "lang", "Book.__init__.__globals__", REFUSED),
    ("lambda-code", "lang", "(lambda: 0).__code__", REFUSED),
    ("bound-method-self", "lang", "Book.objects.first().save.__self__", REFUSED),
    ("dunder-dict", "lang", "Book.__dict__", REFUSED),
    ("generator-frame", "lang", "g = (x for x in [1])\ng.gi_frame", REFUSED),
    ("generator-code", "lang", "g = (x for x in [1])\ng.gi_code", REFUSED),
    ("format-class", "lang", '"{0.__class__}".format(1)', REFUSED),
    ("format-map-manager", "lang", '"{x.objects.model}".format_map({"x": Book})', REFUSED),
    ("fstring-dunder", "lang", 'f"{Book.__module__}"', REFUSED),
    (
        "traceback-frame",
        "lang",
        "try:\n    1/0\nexcept Exception as e:\n    e.__traceback__",
        REFUSED,
    ),
    (
        "with-traceback",
        "lang",
        "try:\n    1/0\nexcept Exception as e:\n    e.with_traceback(None)",
        REFUSED,
    ),
    (
        "exception-context",
        "lang",
        "try:\n    1/0\nexcept Exception as e:\n    e.__context__",
        REFUSED,
    ),
    # -- type / getattr / vars / globals / builtins -----------------------------------------
    ("type", "lang", "type(Book)", REFUSED),
    ("getattr", "lang", 'getattr(Book, "objects")', REFUSED),
    ("vars", "lang", "vars(Book)", REFUSED),
    ("globals", "lang", "globals()", REFUSED),
    ("locals", "lang", "locals()", REFUSED),
    ("dir", "lang", "dir(Book)", REFUSED),
    ("eval", "lang", 'eval("1 + 1")', REFUSED),
    ("exec", "lang", 'exec("x = 1")', REFUSED),
    ("compile", "lang", 'compile("1", "x", "eval")', REFUSED),
    ("import", "lang", "import os", REFUSED),
    ("from-import", "lang", "from django.conf import settings", REFUSED),
    ("dunder-import", "lang", '__import__("os")', REFUSED),
    ("builtins-name", "lang", "__builtins__", REFUSED),
    ("setattr", "lang", 'setattr(Book, "objects", None)', REFUSED),
    ("print-to-file", "lang", "print(1, file=None)", REFUSED),
    # -- operator tricks ----------------------------------------------------------------------
    ("attrgetter", "lang", 'import operator\noperator.attrgetter("_meta")(Book)', REFUSED),
    ("sorted-key-getattr", "lang", "sorted([Book], key=lambda c: c._meta)", REFUSED),
    ("map-type", "lang", "list(map(type, [1]))", REFUSED),
    ("assign-class-attr", "lang", "Book.objects = None", REFUSED),
    ("assign-instance-method", "lang", "b = Book.objects.first()\nb.save = None", REFUSED),
    # -- model and queryset internals ----------------------------------------------------------
    ("meta", "lang", "Book._meta.db_table", REFUSED),
    ("manager-model", "lang", "Book.objects.model", REFUSED),
    ("manager-db", "lang", "Book.objects.db", REFUSED),
    ("queryset-db", "lang", "Book.objects.all().db", REFUSED),
    ("using-default", "lang", 'Book.objects.using("default").count()', REFUSED),
    ("using-other", "lang", 'Book.objects.all().using("app").count()', REFUSED),
    ("get-queryset", "lang", "Book.objects.get_queryset()", REFUSED),
    ("query-compiler", "lang", 'Book.objects.all().query.get_compiler("default")', REFUSED),
    ("query-model", "lang", "Book.objects.all().query.model", REFUSED),
    ("raw-internals", "lang", 'Book.objects.raw("SELECT 1 AS id").query', REFUSED),
    ("class-descriptor", "lang", "Book.author.field.model", REFUSED),
    ("exception-mro", "lang", "Book.DoesNotExist.mro()", REFUSED),
    ("instance-manager", "lang", "Book.objects.first().author.objects", REFUSED),
    ("m2m-through", "lang", "Book.objects.first().tags.through", REFUSED),
    ("expression-internals", "lang", 'F("id").resolve_expression', REFUSED),
    ("q-children", "lang", "Q(id=1).children", REFUSED),
    # -- window expressions, search objects, KT, output fields, transaction (ormnames.py) -----
    ("window-class", "lang", "Window(Rank()).__class__", REFUSED),
    ("window-sources", "lang", "Window(Rank()).get_source_expressions()", REFUSED),
    ("window-as-sql", "lang", 'Window(RowNumber(), order_by="id").as_sql', REFUSED),
    ("window-function", "lang", "Window(Rank()).source_expression", REFUSED),
    ("window-output-field", "lang", "Window(Rank()).output_field.model", REFUSED),
    ("window-class-attr", "lang", "Window.contains_over_clause", REFUSED),
    ("rank-mro", "lang", "Rank.mro()", REFUSED),
    ("lag-meta", "lang", 'Lag("price")._meta', REFUSED),
    ("search-query-config", "lang", 'SearchQuery("x").config', REFUSED),
    ("search-vector-resolve", "lang", 'SearchVector("title").resolve_expression', REFUSED),
    ("search-rank-connection", "lang", 'SearchRank("title", "x").connection', REFUSED),
    ("search-headline-options", "lang", 'SearchHeadline("title", "x").options', REFUSED),
    ("kt-self", "lang", "KT.__self__", REFUSED),
    ("kt-func", "lang", "KT.__func__.__globals__", REFUSED),
    ("kt-transform-lhs", "lang", 'KT("a__b").lhs', REFUSED),
    ("array-agg-ordering", "lang", 'ArrayAgg("title").order_by', REFUSED),
    ("field-model", "lang", "FloatField().model", REFUSED),
    ("field-get-db-prep", "lang", "FloatField().get_db_prep_value", REFUSED),
    ("transaction-commit", "lang", "transaction.commit()", REFUSED),
    ("transaction-set-autocommit", "lang", "transaction.set_autocommit(True)", REFUSED),
    ("transaction-on-commit", "lang", "transaction.on_commit(print)", REFUSED),
    ("transaction-get-connection", "lang", "transaction.get_connection()", REFUSED),
    ("transaction-rollback", "lang", "transaction.rollback()", REFUSED),
    ("transaction-class", "lang", "transaction.__class__", REFUSED),
    ("atomic-self", "lang", "transaction.atomic.__self__", REFUSED),
    ("atomic-func", "lang", "transaction.atomic.__func__", REFUSED),
    ("atomic-using", "lang", "transaction.atomic().using", REFUSED),
    ("atomic-connection", "lang", "transaction.atomic().connection", REFUSED),
    ("atomic-other-alias", "lang", 'transaction.atomic(using="app")', ERROR),
    # -- RawSQL (ormnames.py): SQL text with parameters, like raw() and extra() --------------
    ("rawsql-class", "lang", 'RawSQL("select 1", []).__class__', REFUSED),
    ("rawsql-as-sql", "lang", 'RawSQL("select 1", []).as_sql', REFUSED),
    ("rawsql-connection", "lang", 'RawSQL("select 1", []).connection', REFUSED),
    ("rawsql-sql", "lang", 'RawSQL("select 1", []).sql', REFUSED),
    ("rawsql-params", "lang", 'RawSQL("select 1", []).params', REFUSED),
    ("rawsql-output-field", "lang", 'RawSQL("select 1", []).output_field.model', REFUSED),
    ("rawsql-resolve", "lang", 'RawSQL("select 1", []).resolve_expression', REFUSED),
    ("rawsql-class-attr", "lang", "RawSQL.as_sql", REFUSED),
    ("rawsql-mro", "lang", "RawSQL.mro()", REFUSED),
    (
        "rawsql-two-statements",
        "db",
        'Book.objects.annotate(x=RawSQL("SELECT 1) AS x FROM lab_book; DROP TABLE lab_book;'
        ' SELECT (1", [])).values_list("x")[:1]',
        REFUSED,
    ),
    (
        "rawsql-read-file",
        "db",
        'Book.objects.annotate(x=RawSQL("pg_read_file(\'/etc/passwd\')", [])).values_list("x")[:1]',
        DENIED,
    ),
    # -- IntegrityError, caught from a real duplicate (tags have unique names) -------------------
    ("integrity-subclasses", "lang", "IntegrityError.__subclasses__()", REFUSED),
    ("integrity-mro", "lang", "IntegrityError.mro()", REFUSED),
    ("integrity-bases", "lang", "IntegrityError.__bases__", REFUSED),
    ("integrity-with-traceback", "lang", "IntegrityError.with_traceback", REFUSED),
    (
        "integrity-traceback",
        "lang",
        "try:\n    Tag.objects.create(name='fiction')\nexcept IntegrityError as e:\n"
        "    e.__traceback__",
        REFUSED,
    ),
    (
        "integrity-cause",
        "lang",
        "try:\n    Tag.objects.create(name='fiction')\nexcept IntegrityError as e:\n"
        "    e.__cause__",
        REFUSED,
    ),
    (
        "integrity-args-class",
        "lang",
        "try:\n    Tag.objects.create(name='fiction')\nexcept IntegrityError as e:\n"
        "    e.args[0].__class__",
        REFUSED,
    ),
    (
        "integrity-psycopg-attrs",
        "lang",
        "try:\n    Tag.objects.create(name='fiction')\nexcept IntegrityError as e:\n    e.diag",
        REFUSED,
    ),
    # -- settings, files, environment, .data ----------------------------------------------------
    ("settings-name", "lang", "settings.SECRET_KEY", REFUSED),
    ("connection-name", "lang", "connection.settings_dict", REFUSED),
    ("apps-name", "lang", "apps.get_models()", REFUSED),
    ("open-secret", "lang", 'open(".data/secret_key").read()', REFUSED),
    ("environ", "lang", "import os\nos.environ", REFUSED),
    (
        "refresh-other-alias",
        "db",
        'Book.objects.first().refresh_from_db(using="app")',
        ERROR,
    ),
    (
        "pg-read-file",
        "db",
        "list(Book.objects.raw(\"SELECT 1 AS id, pg_read_file('/etc/passwd')\"))",
        DENIED,
    ),
    ("pg-ls-dir", "db", "list(Book.objects.raw(\"SELECT 1 AS id, pg_ls_dir('.')\"))", DENIED),
    ("copy-to-file", "db", "list(Book.objects.raw(\"COPY lab_book TO '/tmp/x'\"))", DENIED),
    (
        "server-setting",
        "db",
        'Book.objects.extra(select={"d": "current_setting(\'data_directory\')"}).first()',
        DENIED,
    ),
    # -- sockets and processes -----------------------------------------------------------------
    ("socket", "lang", "import socket\nsocket.create_connection(('127.0.0.1', 5432))", REFUSED),
    ("subprocess", "lang", "import subprocess\nsubprocess.run(['id'])", REFUSED),
    (
        "copy-program",
        "db",
        "list(Book.objects.raw(\"COPY (SELECT 1) TO PROGRAM 'id'\"))",
        DENIED,
    ),
    (
        "two-statements",
        "db",
        'list(Book.objects.raw("SELECT 1 AS id; DROP TABLE lab_book"))',
        ERROR,
    ),
    # -- CPU, memory, recursion, output, statements ------------------------------------------
    ("cpu-loop", "proc", "while True:\n    pass", bound("cpu")),
    ("cpu-sum", "proc", "sum(range(10 ** 12))", bound("cpu")),
    ("cpu-pow", "proc", "x = 7 ** (10 ** 9)", bound("cpu")),
    ("memory-list", "proc", "x = [0] * (10 ** 10)", ERROR),
    ("memory-str", "proc", 'x = "a" * (2 ** 34)', ERROR),
    (
        "memory-grow",
        "proc",
        'x = []\nwhile True:\n    x.append("a" * 10 ** 6)',
        ERROR,
    ),
    ("recursion", "proc", "def f(n):\n    return f(n + 1)\nf(0)", ERROR),
    ("recursion-lambda", "proc", "f = lambda n: f(n + 1)\nf(0)", ERROR),
    ("print-flood", "proc", 'while True:\n    print("x" * 1000)', bound("output")),
    ("print-one-huge", "proc", 'print("x" * 10 ** 6)', bound("output")),
    (
        "print-flood-bare-except",
        "proc",
        'while True:\n    try:\n        print("x" * 1000)\n    except:\n        pass',
        bound("output"),
    ),
    (
        "statement-flood",
        "proc",
        "for i in range(10 ** 6):\n    Book.objects.count()",
        bound("statements"),
    ),
    (
        "statement-flood-swallowed",
        "proc",
        "while True:\n    try:\n        Book.objects.count()\n    except:\n        pass",
        bound("statements"),
    ),
    # -- long queries through raw() and extra() ----------------------------------------------
    ("raw-sleep", "db", 'list(Book.objects.raw("SELECT 1 AS id, pg_sleep(10)"))', TIMEOUT),
    (
        "extra-sleep",
        "db",
        'Book.objects.extra(where=["pg_sleep(10) IS NOT NULL"]).count()',
        TIMEOUT,
    ),
    (
        "extra-series",
        "db",
        'Book.objects.extra(select={"n": "(SELECT count(*) '
        'FROM generate_series(1, 10000000000))"}).first()',
        ERROR,  # temp_file_limit or statement_timeout, whichever comes first
    ),
    (
        "many-short-sleeps",
        "proc",
        'for i in range(8):\n    list(Book.objects.raw("SELECT 1 AS id, pg_sleep(0.8)"))',
        bound("wall_clock"),
    ),
    (
        "raise-own-timeout",
        "db",
        'list(Book.objects.raw("SET statement_timeout = 0"))\n'
        'list(Book.objects.raw("SELECT 1 AS id, pg_sleep(10)"))',
        ERROR,
    ),
    # -- reaching other learners and the server ------------------------------------------------
    (
        "stat-activity",
        "db",
        'list(Book.objects.raw("SELECT pid AS id FROM pg_stat_activity"))',
        DENIED,
    ),
    ("advisory-lock", "db", 'list(Book.objects.raw("SELECT pg_advisory_lock(1) AS id"))', DENIED),
    (
        "set-config",
        "db",
        "list(Book.objects.raw(\"SELECT set_config('work_mem', '1GB', false) AS id\"))",
        DENIED,
    ),
    ("drop-public", "db", 'list(Book.objects.raw("DROP SCHEMA public CASCADE"))', DENIED),
    ("create-role", "db", 'list(Book.objects.raw("CREATE ROLE evil SUPERUSER"))', DENIED),
]

# Items whose code is filled in with the other learner's sandbox name at run time.
OTHER_LEARNER = [
    (
        "other-schema-table",
        "db",
        "list(Book.objects.raw('SELECT * FROM \"{other}\".lab_book'))",
        DENIED,
    ),
    ("other-set-role", "db", "list(Book.objects.raw('SET ROLE \"{other}\"'))", DENIED),
    (
        "other-search-path",
        "db",
        "try:\n    list(Book.objects.raw('SET search_path = \"{other}\"'))\nexcept TypeError:\n"
        "    pass\nBook.objects.count()",
        DENIED,
    ),
]


def _expectation_met(expect: str, answer: dict) -> bool:
    error = answer.get("error") or {}
    if answer.get("ok"):
        return False
    if expect == REFUSED:
        return error.get("type") in ("NotAllowed", "NameError")
    if expect == DENIED:
        text = error.get("message", "").lower()
        return (
            any(
                word in text
                for word in (
                    "permission denied",
                    "must be owner",
                    "must be superuser",
                    "does not exist",
                )
            )
            or error.get("type") == "NotAllowed"
        )
    if expect == TIMEOUT:
        return error.get("message", "").startswith("Statement timeout")
    if expect.startswith("bound:"):
        return (
            answer.get("bound") == expect.split(":", 1)[1] and error.get("type") == "LimitExceeded"
        )
    return bool(error)


def _secrets() -> list[str]:
    from sandbox import servers

    found = [settings.SECRET_KEY]
    for url in servers.sandbox_urls():
        from psycopg.conninfo import conninfo_to_dict

        password = conninfo_to_dict(url).get("password")
        if password:
            found.append(password)
    return found


@pytest.fixture
def other_lab_client(other_learner):
    client = Client()
    client.force_login(other_learner)
    return client


def _healthy(client: Client, lesson: Lesson) -> bool:
    answer = lab_run(client, lesson, "Tag.objects.count()")
    return answer["ok"] and answer["result"]["rows"] == [[12]]


@pytest.mark.slow
def test_the_hostile_corpus_ends_safely(lab_client, other_lab_client, lab_lesson, other_learner):
    assert len(CORPUS) + len(OTHER_LEARNER) >= 60
    assert _healthy(other_lab_client, lab_lesson)
    other = Sandbox.objects.get(learner__user=other_learner, lesson=lab_lesson).name
    users_before = get_user_model().objects.count()
    secret_before = settings.SECRET_KEY
    secrets = _secrets()
    items = CORPUS + [(i, w, code.format(other=other), e) for i, w, code, e in OTHER_LEARNER]
    failures = []
    for item, _wall, code, expect in items:
        answer = lab_run(lab_client, lab_lesson, code)
        text = json.dumps(answer)
        if not _expectation_met(expect, answer):
            failures.append(f"{item}: expected {expect}, got {answer.get('error')}")
        if any(secret in text for secret in secrets):
            failures.append(f"{item}: a secret is in the answer")
        if not _healthy(lab_client, lab_lesson):
            failures.append(f"{item}: the same learner cannot run code afterwards")
        if not _healthy(other_lab_client, lab_lesson):
            failures.append(f"{item}: another learner cannot run code afterwards")
    assert not failures, "\n".join(failures)
    assert get_user_model().objects.count() == users_before
    assert secret_before == settings.SECRET_KEY
    assert Lesson.objects.filter(pk=lab_lesson.pk, mode="django_lab").exists()
