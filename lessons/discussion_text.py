"""Discussion posts: Markdown as people type it → HTML that is safe to show to everyone.

Pure functions, no ORM. Posts are rendered once, when they are saved (Post.body_html).

Two layers, so that a mistake in one is caught by the other:

1. markdown-it-py with raw HTML disabled renders a small subset: paragraphs, emphasis, inline
   code, fenced code blocks (highlighted with Pygments), lists, block quotes and links. Headings,
   images, rules and tables are switched off and come out as the text that was typed.
2. nh3 sanitises the result against a strict allow-list of tags, attributes, classes and URL
   schemes, and puts rel="nofollow ugc noopener" on every link.

On SQL sandbox lessons an SQL code block gets `data-sql` (the code, escaped) on its wrapper, which
the sandbox's JavaScript (static/sandbox/sandbox.js) gives a "Load into sandbox" button, and a
plain button.run-in-sandbox of its own for pages without that script (static/js/discussion.js).
Both load the SQL into the editor and never run it: a post is someone else's SQL.
"""

from __future__ import annotations

import html

import nh3
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

SQL_LANGUAGES = {"sql", "postgresql", "postgres", "pgsql", "psql", "plpgsql"}
LINK_REL = "nofollow ugc noopener"

ALLOWED_TAGS = {
    "p",
    "br",
    "em",
    "strong",
    "code",
    "pre",
    "ul",
    "ol",
    "li",
    "blockquote",
    "a",
    "div",
    "span",
    "button",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
    "div": {"data-sql"},
}
# Pygments' own short class names ("k", "s1", "mi"…) and the wrappers made below; nothing else.
PYGMENTS_CLASSES = {name for name in STANDARD_TYPES.values() if name}
ALLOWED_CLASSES = {
    "span": PYGMENTS_CLASSES,
    "div": {"highlight", "code-block", "sql-block"},
    "button": {"run-in-sandbox"},
}
URL_SCHEMES = {"http", "https", "mailto"}

_FORMATTER = HtmlFormatter(cssclass="highlight")


def _render_fence(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    language = token.info.strip().split(maxsplit=1)[0].lower() if token.info.strip() else ""
    code = token.content
    try:
        lexer = get_lexer_by_name(language) if language else TextLexer()
    except ClassNotFound:
        lexer = TextLexer()
    highlighted = highlight(code, lexer, _FORMATTER)
    if env.get("runnable_sql") and language in SQL_LANGUAGES and code.strip():
        sql = html.escape(code.strip(), quote=True)
        return (
            f'<div class="code-block sql-block" data-sql="{sql}">{highlighted}'
            '<button class="run-in-sandbox">Load into sandbox</button></div>\n'
        )
    return f'<div class="code-block">{highlighted}</div>\n'


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable(["heading", "lheading", "hr", "image", "html_block", "html_inline"])
    md.add_render_rule("fence", _render_fence)
    return md


_MD = _markdown()


def sanitise(fragment: str) -> str:
    """`fragment` with everything outside the discussion allow-list removed."""
    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style", "template", "iframe", "object", "svg", "math"},
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        # A button that cannot submit anything, whatever markup reached this point.
        set_tag_attribute_values={"button": {"type": "button"}},
        strip_comments=True,
    )


def render_post(text: str, *, runnable_sql: bool = False) -> str:
    """The safe HTML for a post's Markdown `text`.

    `runnable_sql`: mark SQL code blocks for the sandbox (on sql_sandbox lessons).
    """
    rendered = _MD.render(text, {"runnable_sql": runnable_sql})
    return sanitise(rendered)
