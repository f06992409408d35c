"""sandbox.grading.compare: what a learner is told when their rows differ."""

from __future__ import annotations

from sandbox.grading import compare
from sandbox.runner import StatementResult


def result(rows: list[list], columns=("id", "paid")) -> StatementResult:
    return StatementResult(
        statement="SELECT …",
        columns=list(columns),
        types=["integer", "numeric"],
        rows=rows,
        rowcount=len(rows),
        truncated=False,
        elapsed_ms=1.0,
    )


def test_it_shows_a_wrong_row_beside_the_row_expected_in_its_place():
    expected = result([[1, "10.00"], [2, "5.00"], [3, "7.00"], [4, "1.00"], [5, "2.00"]])
    # Rows 4 and 5 are right; 1 to 3 are doubled, in another order than expected.
    got = result([[3, "14.00"], [1, "20.00"], [2, "10.00"], [4, "1.00"], [5, "2.00"]])
    problems, shown = compare(expected, got, order_matters=False, label="On the lesson's data")
    assert problems == [
        "On the lesson's data: 3 expected rows are missing and 3 rows should not be there."
    ]
    assert shown["rows"] == [
        ("missing", [1, "10.00"]),
        ("extra", [1, "20.00"]),
        ("missing", [2, "5.00"]),
        ("extra", [2, "10.00"]),
        ("missing", [3, "7.00"]),
        ("extra", [3, "14.00"]),
    ]


def test_it_lists_missing_rows_then_extra_rows_when_nothing_pairs_up():
    expected = result([[1, "10.00"], [2, "5.00"]])
    got = result([[7, "10.00"]])
    problems, shown = compare(expected, got, order_matters=False, label="On hidden data set 1")
    assert problems[0] == "On hidden data set 1: your query returns 1 row; 2 are expected."
    assert shown["rows"] == [
        ("missing", [1, "10.00"]),
        ("missing", [2, "5.00"]),
        ("extra", [7, "10.00"]),
    ]
