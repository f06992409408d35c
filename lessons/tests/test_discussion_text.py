"""The Markdown subset posts are written in, and what it never lets through."""

from __future__ import annotations

from lessons.discussion_text import render_post


def test_it_renders_the_subset():
    html = render_post("Some *emphasis*, **strong**, `code`.\n\n- one\n- two\n\n1. first\n")
    assert "<em>emphasis</em>" in html and "<strong>strong</strong>" in html
    assert "<code>code</code>" in html
    assert "<ul>\n<li>one</li>" in html and "<ol>\n<li>first</li>" in html


def test_it_marks_links_as_user_content():
    html = render_post("[docs](https://www.postgresql.org/docs/)")
    assert html == (
        '<p><a href="https://www.postgresql.org/docs/" rel="nofollow ugc noopener">docs</a></p>\n'
    )


def test_it_highlights_fenced_code_with_pygments():
    html = render_post("```python\nprint('hi')\n```")
    assert '<div class="code-block"><div class="highlight"><pre>' in html
    assert '<span class="nb">print</span>' in html


def test_it_leaves_headings_images_and_html_as_text():
    html = render_post("# Big\n\n![alt](https://example.com/a.png)\n\n<b>bold</b>")
    assert "<h1>" not in html and "<img" not in html and "<b>" not in html
    assert "# Big" in html and "&lt;b&gt;bold&lt;/b&gt;" in html


def test_it_offers_sql_to_the_sandbox_only_on_sandbox_lessons():
    text = "```sql\nSELECT count(*) FROM orders WHERE note = '<b>';\n```"
    runnable = render_post(text, runnable_sql=True)
    assert (
        '<div class="code-block sql-block" '
        "data-sql=\"SELECT count(*) FROM orders WHERE note = '&lt;b&gt;';\">" in runnable
    )
    assert '<button class="run-in-sandbox" type="button">Load into sandbox</button>' in runnable
    assert runnable.count("data-sql") == 1  # one button from the sandbox's script, not two
    assert "data-sql" not in render_post(text, runnable_sql=False)
    assert "data-sql" not in render_post("```python\nx = 1\n```", runnable_sql=True)
