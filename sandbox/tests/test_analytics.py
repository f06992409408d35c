"""Answer shapes for the staff analytics pages (sandbox/analytics.py): what counts as the same
failing answer."""

from __future__ import annotations

from sandbox.analytics import python_shape, sql_shape


def test_sql_shapes_ignore_constants_and_layout_but_not_structure():
    assert sql_shape("select 1 from t where a = 5") == sql_shape("SELECT 1\nFROM t WHERE a=7;")
    assert sql_shape("select 1 from t where a = 5") != sql_shape("select 1 from t where b = 5")
    # What PostgreSQL cannot parse is grouped by its text, spacing and case aside.
    assert sql_shape("SELEC  * FROM t") == sql_shape("selec * from t;")


def test_python_shapes_ignore_comments_spacing_and_quotes_but_not_constants():
    assert python_shape("x = 'a'  # note") == python_shape('x = "a"')
    assert python_shape("x = 1") != python_shape("x = 2")
    assert python_shape("for x in") == python_shape("for  x in")
