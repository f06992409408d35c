# ruff: noqa: F811 (pytest fixtures imported from lab_support are arguments here)
"""The ORM names learner code gets without imports (sandbox/lab/ormnames.py): window
expressions, database functions, django.contrib.postgres lookups, search and aggregates, KT,
and ``transaction.atomic``. Each run works and shows the SQL it sent. (Escape attempts through
these names are in the hostile corpus, test_lab_hostile.py.)"""

from __future__ import annotations

import pytest

from lessons.models import Exercise, Lesson
from sandbox.tests.lab_support import (  # noqa: F401
    lab_check,
    lab_client,
    lab_lesson,
    lab_run,
    lab_settings,
    lab_track,
    lab_worker,
)


def _ok(answer: dict) -> list[str]:
    assert answer["ok"], answer["error"]
    return [query["sql"] for query in answer["queries"]]


def test_a_window_rank_per_partition(lab_client, lab_lesson):
    code = (
        'Book.objects.annotate(rank_in_year=Window(Rank(), partition_by="published_year", '
        'order_by=F("price").desc())).order_by("published_year", "rank_in_year")'
        '.values_list("published_year", "rank_in_year")[:3]'
    )
    answer = lab_run(lab_client, lab_lesson, code)
    (sql,) = _ok(answer)
    assert 'RANK() OVER (PARTITION BY "lab_book"."published_year"' in sql
    assert answer["result"]["rows"][0][1] == 1


def test_row_number_lag_lead_and_a_running_sum_with_a_frame(lab_client, lab_lesson):
    code = (
        "Book.objects.filter(id__lte=3).annotate(\n"
        '    n=Window(RowNumber(), order_by="id"),\n'
        '    before=Window(Lag("id"), order_by="id"),\n'
        '    after=Window(Lead("id"), order_by="id"),\n'
        '    first=Window(FirstValue("id"), order_by="id"),\n'
        '    dense=Window(DenseRank(), order_by="author_id"),\n'
        '    running=Window(Sum("pages"), order_by="id", frame=RowRange(start=None, end=0)),\n'
        ').order_by("id").values_list("id", "n", "before", "after", "first", "running")'
    )
    answer = lab_run(lab_client, lab_lesson, code)
    (sql,) = _ok(answer)
    assert "ROW_NUMBER() OVER" in sql and "LAG(" in sql and "LEAD(" in sql
    assert "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW" in sql
    rows = answer["result"]["rows"]
    assert [row[:5] for row in rows] == [[1, 1, None, 2, 1], [2, 2, 1, 3, 1], [3, 3, 2, None, 1]]
    assert 0 < rows[0][5] < rows[1][5] < rows[2][5]


def test_case_functions_and_output_fields(lab_client, lab_lesson):
    code = (
        "Book.objects.filter(id=1).annotate(\n"
        '    size=Case(When(pages__gte=300, then=Value("long")), default=Value("short")),\n'
        '    per_page=ExpressionWrapper(F("price") / F("pages"), output_field=FloatField()),\n'
        '    shout=Upper(Concat("title", Value("!"))),\n'
        "    month=TruncMonth(Now()), year=ExtractYear(Now()),\n"
        '    most=Greatest("pages", Value(0)), some=Coalesce("publisher__name", Value("-")),\n'
        '    reviewed=Exists(Review.objects.filter(book=OuterRef("pk"))),\n'
        ').values_list("size", "reviewed", "per_page", "shout", "month", "year", "most", "some")'
    )
    answer = lab_run(lab_client, lab_lesson, code)
    (sql,) = _ok(answer)
    assert "CASE WHEN" in sql and "GREATEST(" in sql and "EXISTS(" in sql
    assert "TRUNC(" in sql.upper() and "EXTRACT(" in sql and "COALESCE(" in sql
    assert answer["result"]["rows"][0][1] is True
    assert answer["result"]["rows"][0][3].endswith("!")


def test_array_lookups_on_an_array_agg(lab_client, lab_lesson):
    # __overlap imports django.contrib.postgres.expressions lazily: the worker loads it first.
    code = (
        'Book.objects.annotate(tag_names=ArrayAgg("tags__name", distinct=True))'
        '.filter(tag_names__overlap=["fiction", "history"]).count()'
    )
    answer = lab_run(lab_client, lab_lesson, code)
    (sql,) = _ok(answer)
    assert "ARRAY_AGG(DISTINCT" in sql and "&&" in sql
    assert answer["result"]["rows"][0][0] > 0


def test_full_text_search_names(lab_client, lab_lesson):
    code = (
        'vector = SearchVector("title", config="english")\n'
        'query = SearchQuery("house", config="english") | SearchQuery("war")\n'
        "Book.objects.annotate(rank=SearchRank(vector, query), "
        'snippet=SearchHeadline("title", query, config="english"))'
        '.filter(rank__gte=0).order_by("-rank").values_list("snippet", flat=True)[:3]'
    )
    answer = lab_run(lab_client, lab_lesson, code)
    (sql,) = _ok(answer)
    assert "ts_rank(" in sql and "ts_headline(" in sql and "plainto_tsquery(" in sql


RAW_SQL = """
good = RawSQL(
    "SELECT count(*) FROM lab_review r WHERE r.book_id = lab_book.id AND r.rating >= %s", [4]
)
typed = "x' OR '1'='1"
Book.objects.filter(
    id__in=RawSQL("SELECT book_id FROM lab_review WHERE body = %s", [typed])
).annotate(good=good).order_by(RawSQL("lab_book.id", []).desc()).values_list("id", "good")
"""


def test_rawsql_in_annotate_filter_and_order_by_binds_its_parameters(lab_client, lab_lesson):
    answer = lab_run(lab_client, lab_lesson, RAW_SQL)
    (sql,) = _ok(answer)
    assert "r.rating >= 4) AS" in sql
    assert "ORDER BY (lab_book.id) DESC" in sql
    # The value stays one quoted string, not SQL: no review has that body.
    assert "body = 'x'' OR ''1''=''1'" in sql
    assert answer["result"]["rows"] == []
    answer = lab_run(
        lab_client,
        lab_lesson,
        'Book.objects.filter(id__lte=3).annotate(n=RawSQL("SELECT count(*) FROM lab_review r'
        ' WHERE r.book_id = lab_book.id", [])).order_by("id").values_list("id", "n")',
    )
    _ok(answer)
    assert answer["result"]["rows"] == [[1, 3], [2, 3], [3, 3]]


@pytest.fixture
def pg_lesson(lab_track, lab_settings):
    return Lesson.objects.create(
        track=lab_track,
        slug="pgfields",
        step=5,
        title="PostgreSQL fields",
        mode=Lesson.Mode.DJANGO_LAB,
        fixture="pgfields.sql",
        lab_models="pgfields",
    )


def test_array_range_and_key_transform_lookups_on_model_fields(lab_client, pg_lesson):
    code = (
        'print(Gadget.objects.filter(labels__overlap=["clearance"]).count())\n'
        "print(Stay.objects.filter(during__contains=date(2024, 1, 2), room=2).count())\n"
        'Gadget.objects.annotate(brand=KT("attributes__brand")).filter(brand="brand-17").count()'
    )
    answer = lab_run(lab_client, pg_lesson, code)
    sqls = _ok(answer)
    assert '"lab_gadget"."labels" && ' in sqls[0]
    assert '"lab_stay"."during" @> ' in sqls[1]
    assert "->>" in sqls[2] or "#>>" in sqls[2]
    clearance, stays = answer["output"].split()
    assert int(clearance) == 80 and int(stays) == 1
    assert answer["result"]["rows"][0][0] == 100


ROLLED_BACK = """
try:
    with transaction.atomic():
        Tag.objects.create(name="temporary")
        raise ValueError("undo")
except ValueError:
    pass
Tag.objects.filter(name="temporary").count()
"""

SAVEPOINT = """
with transaction.atomic():
    Tag.objects.create(name="kept")
    try:
        with transaction.atomic():
            Tag.objects.create(name="kept")
    except IntegrityError:
        print("duplicate undone")
Tag.objects.filter(name="kept").count()
"""


def test_transaction_atomic_rolls_back_a_block_and_nests_as_a_savepoint(lab_client, lab_lesson):
    answer = lab_run(lab_client, lab_lesson, ROLLED_BACK)
    _ok(answer)
    assert answer["result"]["rows"] == [[0]]
    answer = lab_run(lab_client, lab_lesson, SAVEPOINT)
    sqls = _ok(answer)
    assert answer["output"] == "duplicate undone\n"
    assert answer["result"]["rows"] == [[1]]
    assert any(sql.startswith("SAVEPOINT") for sql in sqls)
    assert any(sql.startswith("ROLLBACK TO SAVEPOINT") for sql in sqls)
    # The outermost block committed, like the run's other writes; the connection is sound.
    after = lab_run(lab_client, lab_lesson, 'Tag.objects.filter(name="kept").count()')
    assert after["result"]["rows"] == [[1]]


def test_transaction_atomic_as_a_decorator(lab_client, lab_lesson):
    code = "@transaction.atomic\ndef count():\n    return Tag.objects.count()\ncount()"
    answer = lab_run(lab_client, lab_lesson, code)
    _ok(answer)
    assert answer["result"]["rows"] == [[12]]


def test_transaction_atomic_in_check_is_a_savepoint_and_rolled_back(lab_client, lab_lesson):
    exercise = Exercise.objects.create(
        lesson=lab_lesson,
        key="tags",
        prompt_html="<p>Add a tag named sql, then count the tags.</p>",
        solution_sql='Tag.objects.create(name="sql")\nTag.objects.count()',
    )
    code = 'with transaction.atomic():\n    Tag.objects.create(name="sql")\nTag.objects.count()'
    answer = lab_check(lab_client, exercise, code)
    assert answer["passed"], answer["problems"]
    assert lab_run(lab_client, lab_lesson, "Tag.objects.count()")["result"]["rows"] == [[12]]


def test_trigram_similarity_needs_pg_trgm_which_a_sandbox_does_not_have(lab_client, lab_lesson):
    # The name is there, but a sandbox cannot CREATE EXTENSION and the lab's databases do not
    # have pg_trgm installed: the run ends with PostgreSQL's own clear error (README.md).
    code = 'list(Book.objects.annotate(s=TrigramSimilarity("title", "war")).values("s")[:1])'
    answer = lab_run(lab_client, lab_lesson, code)
    assert not answer["ok"]
    assert "function similarity(" in answer["error"]["message"]
    assert "does not exist" in answer["error"]["message"]


LEFT_OPEN = """
def g():
    with transaction.atomic():
        Tag.objects.create(name="never-committed")
        yield 1
x = g()
next(x)
keep = [x]
keep.append(keep)
Tag.objects.filter(name="never-committed").count()
"""


def test_a_block_left_open_by_a_generator_is_rolled_back(lab_client, lab_lesson):
    answer = lab_run(lab_client, lab_lesson, LEFT_OPEN)
    _ok(answer)
    assert answer["result"]["rows"] == [[1]]  # inside the block, in this run
    after = lab_run(lab_client, lab_lesson, 'Tag.objects.filter(name="never-committed").count()')
    assert after["ok"], after["error"]
    assert after["result"]["rows"] == [[0]]


def test_a_block_closed_after_the_block_around_it_rolls_back_instead_of_releasing(db):
    # What a generator finalised late could do in Check: the block around the learner's block
    # (Check's own) ends first. Django alone would then release ("commit") the learner's block
    # into whatever is left; the lab's atomic() rolls it back.
    from django.db import connection, transaction

    from lessons.models import Track
    from sandbox.lab.ormnames import LabTransaction

    around = transaction.atomic()
    around.__enter__()
    block = LabTransaction().atomic()
    block.__enter__()
    Track.objects.create(slug="written-in-the-block", title="x")
    around.__exit__(None, None, None)
    block.__exit__(None, None, None)
    assert not connection.needs_rollback
    assert not Track.objects.filter(slug="written-in-the-block").exists()
