# ruff: noqa: F811 (pytest fixtures imported from lab_support are arguments here)
"""POST /api/lab/check: graded ORM exercises (rows, statements, plans)."""

from __future__ import annotations

import pytest

from lessons.models import Exercise
from sandbox.models import ExerciseAttempt
from sandbox.tests.lab_support import (  # noqa: F401
    lab_check,
    lab_client,
    lab_lesson,
    lab_settings,
    lab_track,
    lab_worker,
)

AUTHOR_NAMES = """
names = []
for b in Book.objects.order_by("id")[:20]:
    names.append(b.author.name)
names
"""


@pytest.fixture
def first_authors(lab_lesson):
    return Exercise.objects.create(
        lesson=lab_lesson,
        key="first-authors",
        prompt_html="<p>The authors of the first 20 books, in two queries at most.</p>",
        solution_sql=(
            '[b.author.name for b in Book.objects.select_related("author").order_by("id")[:20]]'
        ),
        order_matters=True,
        max_queries=2,
        variants=[{"id": "renamed", "setup": "UPDATE lab_author SET name = upper(name);"}],
    )


@pytest.fixture
def prolific(lab_lesson):
    return Exercise.objects.create(
        lesson=lab_lesson,
        key="prolific",
        prompt_html="<p>Authors with more than 8 books.</p>",
        solution_sql=(
            'Author.objects.annotate(n=Count("books")).filter(n__gte=8).values_list("name", "n")'
        ),
        variants=[
            {
                "id": "more-books",
                "setup": "INSERT INTO lab_book (title, author_id, published_year, pages, price) "
                "SELECT 'x', 2, 2000, 100, 1 FROM generate_series(1, 9);",
            }
        ],
        plan_checks=[{"check": "max_rows_read", "value": 100000}],
    )


def test_a_right_answer_passes_and_gets_the_solution(lab_client, first_authors):
    code = '[b.author.name for b in Book.objects.select_related("author").order_by("id")[:20]]'
    answer = lab_check(lab_client, first_authors, code)
    assert answer["passed"], answer["problems"]
    assert answer["solution"].startswith("[b.author.name")
    assert len(answer["queries"]) == 1
    assert ExerciseAttempt.objects.get(exercise=first_authors).passed


def test_an_n_plus_one_answer_is_told_too_many_queries_and_which_shape(lab_client, first_authors):
    answer = lab_check(lab_client, first_authors, AUTHOR_NAMES)
    assert not answer["passed"]
    assert answer["max_queries"] == 2
    (problem,) = answer["problems"]
    assert problem.startswith("Too many queries: your code sent 21 queries; at most 2 are allowed.")
    assert '`select_related("author")` would make it one.' in problem
    assert answer["repeated"][0]["count"] == 20
    assert "solution" not in answer


def test_wrong_rows_are_named(lab_client, prolific):
    code = 'Author.objects.annotate(n=Count("books")).filter(n__gt=9).values_list("name", "n")'
    answer = lab_check(lab_client, prolific, code)
    assert not answer["passed"]
    assert answer["problems"][0].startswith("Wrong rows. On the lesson's data")


def test_a_hidden_variant_catches_an_answer_right_by_luck(lab_client, first_authors):
    from sandbox.tests.lab_support import lab_run

    names = lab_run(lab_client, first_authors.lesson, first_authors.solution_sql)["result"]
    constant = repr([row[0] for row in names["rows"]])
    answer = lab_check(lab_client, first_authors, constant)
    assert not answer["passed"]
    assert answer["problems"][0].startswith("Wrong rows. On hidden data set 1 of 1")


def test_plan_checks_apply_to_the_statements_sent(lab_client, lab_lesson):
    exercise = Exercise.objects.create(
        lesson=lab_lesson,
        key="one-book",
        prompt_html="<p>Book 7's title.</p>",
        solution_sql="Book.objects.get(pk=7).title",
        plan_checks=[{"check": "max_rows_read", "value": 10}],
    )
    good = lab_check(lab_client, exercise, "Book.objects.get(pk=7).title")
    assert good["passed"], good
    bad = lab_check(
        lab_client, exercise, 'Book.objects.get(title__startswith="The Query Harbour 7")'
    )
    assert not bad["passed"]


def test_an_answer_cannot_commit_in_the_grader(lab_client, first_authors):
    answer = lab_check(
        lab_client,
        first_authors,
        'list(Book.objects.raw("COMMIT"))\n[]',
    )
    assert not answer["passed"]
    assert "BEGIN, COMMIT and ROLLBACK" in answer["problems"][0]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        # A database error caught with no atomic() block around it: Check's transaction is
        # marked for rollback, the next query fails, and the answer (not the solution) is told.
        (
            "try:\n"
            '    Tag.objects.create(name="fiction")\n'
            "except IntegrityError:\n"
            "    pass\n"
            '[b.author.name for b in Book.objects.select_related("author").order_by("id")[:20]]',
            "(line 5): An error occurred in the current transaction",
        ),
        # The same, not caught: a duplicate tag outside any atomic() block of the answer's own.
        ('Tag.objects.create(name="fiction")', "duplicate key value violates unique constraint"),
        # atomic(savepoint=False) has nothing of its own to roll back to: still the answer is
        # told, not "the check could not run".
        (
            'with transaction.atomic(savepoint=False):\n    Tag.objects.create(name="fiction")',
            "duplicate key value violates unique constraint",
        ),
    ],
    ids=["caught", "not-caught", "no-savepoint"],
)
def test_an_answer_that_breaks_the_graders_transaction_gets_a_verdict(
    lab_client, first_authors, code, expected
):
    answer = lab_check(lab_client, first_authors, code)
    assert not answer["passed"]
    assert expected in answer["problems"][0]
    right = lab_check(lab_client, first_authors, first_authors.solution_sql)
    assert right["passed"], right["problems"]


def test_a_failing_answer_names_its_line(lab_client, first_authors):
    answer = lab_check(lab_client, first_authors, "x = 1\nBook.objects.get(pk=0)")
    assert not answer["passed"]
    assert "(line 2)" in answer["problems"][0]


def test_a_bound_in_an_answer_is_named(lab_client, first_authors):
    answer = lab_check(lab_client, first_authors, "while True:\n    Book.objects.count()")
    assert not answer["passed"]
    assert "Statement limit" in answer["problems"][0]


def test_solution_endpoint_returns_the_python(lab_client, first_authors):
    response = lab_client.post(
        "/api/sandbox/solution",
        {"lesson": first_authors.lesson.ref, "exercise": first_authors.key, "give_up": True},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["solution"].startswith("[b.author.name")


def test_the_sql_check_refuses_a_lab_exercise(lab_client, first_authors):
    response = lab_client.post(
        "/api/sandbox/check",
        {"lesson": first_authors.lesson.ref, "exercise": first_authors.key, "sql": "SELECT 1"},
        content_type="application/json",
    )
    assert response.status_code == 400
