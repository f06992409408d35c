"""Markdown to HTML, once at sync: CommonMark with heading anchors and Pygments highlighting."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.utils.html import escape
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.front_matter import front_matter_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

# -- Markdown --------------------------------------------------------------------------------


def slugify_heading(text: str) -> str:
    slug = re.sub(r"[^\w\s-]", "", text.lower()).strip()
    return re.sub(r"[\s_-]+", "-", slug) or "section"


def highlight_code(code: str, language: str) -> str:
    try:
        lexer = get_lexer_by_name(language) if language else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return escape(code)
    return highlight(code, lexer, HtmlFormatter(nowrap=True))


def code_block_html(code: str, language: str) -> str:
    """A highlighted code block with a copy button (site.js wires the button)."""
    label = language or "text"
    return (
        f'<div class="code-block" data-language="{escape(label)}">'
        f'<div class="code-head"><span class="code-lang">{escape(label)}</span>'
        '<button type="button" class="copy-button" data-copy hidden>Copy</button></div>'
        f'<pre class="highlight"><code>{highlight_code(code, language)}</code></pre></div>\n'
    )


def is_language(word: str) -> bool:
    if word in ("", "text", "plain", "plaintext"):
        return True
    try:
        get_lexer_by_name(word)
    except ClassNotFound:
        return False
    return True


def _render_fence(self, tokens: list[Token], idx: int, options, env) -> str:
    token = tokens[idx]
    if "block_html" in token.meta:
        return token.meta["block_html"]
    language = token.info.strip().split(maxsplit=1)[0] if token.info.strip() else ""
    return code_block_html(token.content, language)


def _table_alignment_as_classes(state) -> None:
    """An aligned table column comes out of markdown-it as `style="text-align:…"`, which the
    Content-Security-Policy does not allow; an `align-…` class in site.css does the same."""
    for token in state.tokens:
        if token.type in ("th_open", "td_open"):
            style = token.attrs.pop("style", None)
            if isinstance(style, str) and style.startswith("text-align:"):
                token.attrSet("class", "align-" + style.removeprefix("text-align:"))


def _new_markdown() -> MarkdownIt:
    md = (
        MarkdownIt("commonmark", {"html": False})
        .enable("table")
        .use(front_matter_plugin)
        .use(anchors_plugin, min_level=2, max_level=3, slug_func=slugify_heading)
    )
    md.core.ruler.push("table_alignment_as_classes", _table_alignment_as_classes)
    md.add_render_rule("fence", _render_fence)
    return md


MARKDOWN = _new_markdown()


def plain_text(tokens: Iterable[Token]) -> str:
    parts: list[str] = []
    for token in tokens:
        if token.children:
            parts.append(plain_text(token.children))
        elif token.type in ("text", "code_inline"):
            parts.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif token.type in ("fence", "code_block") and "block_html" not in token.meta:
            parts.append("\n" + token.content)
        elif token.type.endswith("_close") and token.block:
            parts.append("\n")
    return "".join(parts)
