"""`hidden: true` under a plan check keeps its detail from learners until they pass."""

from __future__ import annotations

from lessons.content import parse_lesson

LESSON = """---
title: Indexes
step: 1
level: beginner
mode: sql_sandbox
reviewed: 2026-12-01
version: 1
summary: s
fixture: shop.sql
---

```exercise
id: by-customer
prompt: Orders of customer 7.
solution: SELECT id FROM orders WHERE customer_id = 7;
plan_checks:
{checks}
```
"""


def parse(checks: str):
    text = LESSON.replace("{checks}", checks)
    return parse_lesson(text, "pg/01-indexes.md", lesson_urls={}, fixtures={"shop.sql"})


def test_a_hidden_check_is_kept_hidden_on_the_page():
    lesson, errors = parse("  - uses_index: orders_customer_id_idx\n    hidden: true\n")
    assert errors == []
    (exercise,) = lesson.exercises
    assert exercise.plan_checks == [
        {"check": "uses_index", "value": "orders_customer_id_idx", "hidden": True}
    ]
    assert "orders_customer_id_idx" not in lesson.body_html
    assert "it uses a particular index" in lesson.body_html
    assert "which is shown once your answer passes" in lesson.body_html


def test_a_visible_check_is_shown_as_before():
    lesson, errors = parse("  - uses_index: orders_customer_id_idx\n    hidden: false\n")
    assert errors == []
    assert lesson.exercises[0].plan_checks == [
        {"check": "uses_index", "value": "orders_customer_id_idx"}
    ]
    assert "it uses the index <code>orders_customer_id_idx</code>" in lesson.body_html


def test_a_malformed_hidden_or_two_checks_in_one_item_are_errors():
    _, errors = parse("  - uses_index: orders_customer_id_idx\n    hidden: yes please\n")
    assert [e.message for e in errors] == ["a plan check's `hidden` must be true or false"]
    _, errors = parse("  - uses_index: a_idx\n    no_seq_scan: orders\n")
    assert "each plan check is one of" in errors[0].message
    assert "`hidden: true` on the next line" in errors[0].message


def test_no_spill_is_written_true():
    lesson, errors = parse("  - no_spill: true\n")
    assert errors == []
    assert lesson.exercises[0].plan_checks == [{"check": "no_spill", "value": True}]
    assert "spills to disk" in lesson.body_html and "work_mem" in lesson.body_html
    for value in ("false", "orders", "1"):
        _, errors = parse(f"  - no_spill: {value}\n")
        assert [e.message for e in errors] == ["plan check 'no_spill' is written `no_spill: true`"]
    _, errors = parse("  - max_rows_read: true\n")
    assert [e.message for e in errors] == ["plan check 'max_rows_read' needs a number"]
