"""Checks that a page holds nothing a browser would run."""

from __future__ import annotations

import re
from html.parser import HTMLParser

DANGEROUS_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "style", "base", "img"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "srcset"}
BAD_SCHEMES = re.compile(r"^(javascript|vbscript|data):", re.IGNORECASE)


class _Finder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.script_depth = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            # The site's own scripts: files under /static/, nothing inline.
            if not (attributes.get("src") or "").startswith("/static/"):
                self.problems.append(f"<script> without a /static/ src: {attrs}")
        elif tag in DANGEROUS_TAGS:
            self.problems.append(f"<{tag}> {attrs}")
        if tag == "meta" and "http-equiv" in attributes:
            self.problems.append(f"<meta http-equiv> {attrs}")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name}={value!r} on <{tag}>")
            if name == "style":
                self.problems.append(f"style attribute on <{tag}>")
            if name in URL_ATTRIBUTES and value is not None:
                cleaned = re.sub(r"[\x00-\x20]", "", value)
                if BAD_SCHEMES.match(cleaned):
                    self.problems.append(f"{name}={value!r} on <{tag}>")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)


def executable_parts(html: str) -> list[str]:
    """What in `html` could run script: empty when the page is safe.

    For a whole page, checks from <main> on (the header holds the site's own SVG logo).
    """
    if "<main" in html:
        html = html[html.index("<main") :]
    finder = _Finder()
    finder.feed(html)
    finder.close()
    return finder.problems
