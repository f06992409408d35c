"""One lesson file → a validated, rendered `LessonSpec`: front matter, body and blocks."""

from __future__ import annotations

import datetime
import hashlib
import math
import re
from typing import Any

from django.template.loader import render_to_string
from markdown_it.token import Token

from lessons.content.blocks import BLOCKS, LessonFile, text_of
from lessons.content.markdown import MARKDOWN, is_language, plain_text
from lessons.content.specs import (
    BLOCK_TYPES,
    FIXTURES_FOLDER,
    LESSON_FILE,
    LEVELS,
    MODEL_MODULE,
    MODELS_FOLDER,
    MODES,
    OPTIONAL_KEYS,
    RENDER_VERSION,
    REQUIRED_KEYS,
    RUNNABLE_MODES,
    SANDBOX_LANGUAGES,
    WORDS_PER_MINUTE,
    ContentError,
    LessonSpec,
)
from lessons.content.yaml_lines import LineDict, YamlProblem, load_yaml, merged_list_items


def _front_matter(
    lesson: LessonFile,
    tokens: list[Token],
    fixtures: set[str] | None,
    lab_models: set[str] | None = None,
) -> dict[str, Any] | None:
    """The front matter's valid values (an error for each bad one), or None without any."""
    data = _front_matter_mapping(lesson, tokens)
    if data is None:
        return None
    base = 2  # the line after the opening `---`
    for key in data:
        if key not in REQUIRED_KEYS and key not in OPTIONAL_KEYS:
            lesson.error(base + data.line_of(key), f"unknown front-matter key {key!r}")
    for key in REQUIRED_KEYS:
        if key not in data or data[key] is None or text_of(data[key]) == "":
            lesson.error(1, f"missing front-matter key {key!r}")
    values = _simple_values(lesson, data, base)
    fixture = _fixture(lesson, data, base, fixtures)
    if fixture:
        values["fixture"] = fixture
    if data.get("mode") in RUNNABLE_MODES and not data.get("fixture"):
        lesson.error(1, f"`mode: {data.get('mode')}` needs a `fixture`")
    models = _lab_models(lesson, data, base, lab_models)
    if models:
        values["models"] = models
    values["_step_line"] = base + data.line_of("step")
    return values


def _front_matter_mapping(lesson: LessonFile, tokens: list[Token]) -> LineDict | None:
    if not tokens or tokens[0].type != "front_matter":
        lesson.error(1, "the file must start with YAML front matter between `---` lines")
        return None
    data = load_yaml(tokens[0].content)
    if isinstance(data, YamlProblem):
        lesson.error(2 + data.line, data.message)
        return None
    if not isinstance(data, LineDict):
        lesson.error(1, "the front matter must be a YAML mapping")
        return None
    _report_merged_items(lesson, tokens[0].content, data, 2)
    return data


def _whole_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _simple_values(lesson: LessonFile, data: LineDict, base: int) -> dict[str, Any]:
    """The keys checked on their value alone: each good one in the result, an error for each
    bad one."""
    get = data.get
    topics, languages = get("discussion", []), get("sandbox_languages", [])
    rules = {
        "title": (isinstance(get("title"), str), "`title` must be text"),
        "step": (_whole_number(get("step")), "`step` must be a whole number from 1"),
        "level": (get("level") in LEVELS, f"`level` must be one of {', '.join(LEVELS)}"),
        "mode": (get("mode") in MODES, f"`mode` must be one of {', '.join(MODES)}"),
        "reviewed": (
            isinstance(get("reviewed"), datetime.date),
            "`reviewed` must be a date written YYYY-MM-DD",
        ),
        "version": (_whole_number(get("version")), "`version` must be a whole number from 1"),
        "summary": (isinstance(get("summary"), str), "`summary` must be text"),
        "discussion": (
            isinstance(topics, list) and all(text_of(t) for t in topics),
            "`discussion` must be a list of topics",
        ),
        "sandbox_languages": (
            isinstance(languages, list) and all(lang in SANDBOX_LANGUAGES for lang in languages),
            f"`sandbox_languages` must be a list of: {', '.join(SANDBOX_LANGUAGES)}",
        ),
    }
    values: dict[str, Any] = {}
    for key, (ok, message) in rules.items():
        if key in data and data[key] is not None:
            if ok:
                values[key] = data[key]
            else:
                lesson.error(base + data.line_of(key), message)
    return values


def _fixture(
    lesson: LessonFile, data: LineDict, base: int, fixtures: set[str] | None
) -> str | None:
    fixture = data.get("fixture")
    if fixture is None:
        return None
    if not isinstance(fixture, str) or "/" in fixture or not fixture.endswith(".sql"):
        lesson.error(base + data.line_of("fixture"), "`fixture` must be a file name like shop.sql")
    elif fixtures is not None and fixture not in fixtures:
        lesson.error(
            base + data.line_of("fixture"),
            f"fixture file {FIXTURES_FOLDER}/{fixture} does not exist",
        )
    else:
        return fixture
    return None


def _lab_models(
    lesson: LessonFile, data: LineDict, base: int, lab_models: set[str] | None
) -> str | None:
    """The model module of a django_lab lesson (content/models/<name>.py)."""
    models = data.get("models")
    if data.get("mode") != "django_lab":
        if models is not None:
            lesson.error(base + data.line_of("models"), "`models` needs `mode: django_lab`")
        return None
    if "sandbox_languages" in data:
        lesson.error(
            base + data.line_of("sandbox_languages"),
            "`sandbox_languages` is not allowed with `mode: django_lab`",
        )
    if models is None:
        lesson.error(1, "`mode: django_lab` needs `models` (a module in content/models/)")
    elif not isinstance(models, str) or not MODEL_MODULE.match(models):
        lesson.error(
            base + data.line_of("models"),
            "`models` must be a module name like library (content/models/library.py)",
        )
    elif lab_models is not None and models not in lab_models:
        lesson.error(
            base + data.line_of("models"),
            f"model module {MODELS_FOLDER}/{models}.py does not exist",
        )
    else:
        return models
    return None


def parse_lesson(
    text: str,
    path: str,
    *,
    display_path: str | None = None,
    lesson_urls: dict[str, str] | None = None,
    fixtures: set[str] | None = None,
    lab_models: set[str] | None = None,
) -> tuple[LessonSpec | None, list[ContentError]]:
    """Parse, validate and render one lesson.

    `path` is relative to the content folder ("postgresql/03-indexes.md"); messages use
    `display_path` (default: path). `lesson_urls` maps lesson paths to their URLs, for links;
    `fixtures` is the set of fixture file names, or None not to check them.
    """
    display = display_path or path
    lesson = LessonFile(path, display, lesson_urls or {})
    track, _, name = path.rpartition("/")
    match = LESSON_FILE.match(name)
    if not track or not match:
        lesson.error(
            1, "lesson files are named <track>/<NN>-<slug>.md, e.g. postgresql/01-intro.md"
        )
        return None, lesson.errors

    env: dict[str, Any] = {}
    tokens = MARKDOWN.parse(text, env)
    meta = _front_matter(lesson, tokens, fixtures, lab_models)
    if meta is None:
        return None, lesson.errors
    # With bad front-matter values, go on with stand-ins so that the body is checked too.
    step = meta.get("step", int(match["step"]))
    if step != int(match["step"]):
        lesson.error(
            meta["_step_line"],
            f"step {step} does not match the file name's number {match['step']}",
        )
    _check_fences_closed(lesson, tokens, text.splitlines())
    spec = _spec(path, track, match, text, meta)
    toc = _walk_body(lesson, tokens, spec)
    if lesson.errors:
        return None, sorted(lesson.errors, key=lambda error: error.line)
    _render_body(spec, tokens, env, lesson, toc)
    return spec, []


def _check_fences_closed(lesson: LessonFile, tokens: list[Token], lines: list[str]) -> None:
    """A fence left open swallows what follows, up to the next bare fence: report it where it
    opens, not at the block whose closing line it took."""
    for token in tokens:
        if token.type != "fence" or not token.map:
            continue
        start, end = token.map
        marker = token.markup
        opens_another = re.compile(rf"^\s{{0,3}}{re.escape(marker)}(?!{re.escape(marker[0])})\s*\w")
        for number in range(start + 1, end):
            if opens_another.match(lines[number]):
                lesson.error(
                    start + 1,
                    f"the {marker} block opened here is not closed before line {number + 1}, "
                    f"which opens another: add a line with {marker} where this one ends",
                )
                break
        else:
            # An open fence runs to the end of the file; a closed one's last line is its fence.
            last = lines[end - 1].strip() if end - 1 < len(lines) else ""
            closed = end - 1 > start and last.startswith(marker) and not last.strip(marker[0])
            if end >= len(lines) and not closed:
                lesson.error(
                    start + 1,
                    f"the {marker} block opened here is never closed: add a line with {marker} "
                    "where it ends",
                )


# Tags of HTML, not any <Word> (a type such as List<T> in prose is text, and shown as such).
HTML_TAGS = (
    "a|abbr|b|blockquote|br|code|dd|del|details|div|dl|dt|em|h[1-6]|hr|i|iframe|img|ins|kbd|li"
    "|mark|ol|p|pre|s|script|small|span|strong|style|sub|summary|sup|table|tbody|td|th|thead|tr"
    "|u|ul"
)
RAW_HTML_TAG = re.compile(rf"</?(?:{HTML_TAGS})(?:\s[^<>]*)?/?>", re.IGNORECASE)


def _refuse_raw_html(lesson: LessonFile, token: Token, line: int) -> None:
    """Raw HTML is not rendered (learners would see the tags as text), so it is an error."""
    for child in token.children or []:
        found = RAW_HTML_TAG.search(child.content) if child.type == "text" else None
        if found:
            lesson.error(
                line,
                f"raw HTML ({found.group()}) is not allowed: learners would see it as text; "
                "use Markdown instead, or backticks to show it as code",
            )
            return


def _spec(path: str, track: str, match: re.Match, text: str, meta: dict[str, Any]) -> LessonSpec:
    """The lesson's spec from its front matter; stand-ins where a value was bad, so that the
    body is checked too."""
    return LessonSpec(
        path=path,
        track=track,
        slug=match["slug"],
        step=meta.get("step", int(match["step"])),
        title=meta.get("title", "").strip(),
        level=meta.get("level", LEVELS[0]),
        mode=meta.get("mode", MODES[1] if meta.get("fixture") else MODES[0]),
        reviewed=meta.get("reviewed", datetime.date.today()),
        version=meta.get("version", 1),
        summary=meta.get("summary", "").strip(),
        discussion=[text_of(topic) for topic in meta.get("discussion", [])],
        fixture=meta.get("fixture", ""),
        sandbox_languages=list(meta.get("sandbox_languages", [])),
        source_hash=source_hash(text),
        lab_models=meta.get("models", ""),
        line_of_step=meta["_step_line"],
    )


def _walk_body(lesson: LessonFile, tokens: list[Token], spec: LessonSpec) -> list[dict[str, Any]]:
    """Check the body (headings, blocks, code languages, links), render its blocks into `spec`
    and return the table of contents."""
    toc: list[dict[str, Any]] = []
    has_body = False
    for token in tokens:
        line = token.map[0] + 1 if token.map else 1
        if token.type == "heading_open":
            if token.tag == "h1":
                lesson.error(line, "use `##` headings: the title comes from the front matter")
            elif token.tag in ("h2", "h3"):
                toc.append(
                    {"id": token.attrs.get("id", ""), "level": int(token.tag[1]), "line": line}
                )
        if token.type == "inline":
            _refuse_raw_html(lesson, token, line)
        if token.type in ("inline", "fence", "code_block", "table_open"):
            has_body = has_body or token.type != "inline" or bool(token.content.strip())
        if token.type != "fence":
            continue
        word = token.info.strip().split(maxsplit=1)[0] if token.info.strip() else ""
        if word in BLOCKS:
            render_block(lesson, token, word, spec)
        elif not is_language(word):
            lesson.error(
                line,
                f"unknown block type {word!r} (blocks: {', '.join(BLOCK_TYPES)}; "
                "or a language such as sql, python, shell)",
            )
    if not has_body:
        lesson.error(len(tokens[0].content.splitlines()) + 3, "the lesson has no body")
    lesson.fix_links(tokens)
    # Titles of headings as plain text, read after the whole walk filled in the inline tokens.
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag in ("h2", "h3"):
            entry = next(e for e in toc if e["id"] == token.attrs.get("id", ""))
            entry["title"] = plain_text([tokens[index + 1]]).strip()
    return toc


def _render_body(
    spec: LessonSpec, tokens: list[Token], env: dict, lesson: LessonFile, toc: list[dict]
) -> None:
    """The body's HTML, its plain text for search, the table of contents and reading time."""
    spec.body_html = MARKDOWN.renderer.render(tokens, MARKDOWN.options, env)
    spec.anchors = set(re.findall(r'\sid="([^"]+)"', spec.body_html))
    spec.anchor_links = lesson.anchor_links
    body_text = plain_text(tokens)
    text = body_text + "\n" + "\n".join(lesson.public_text)
    spec.body_text = re.sub(r"\n{3,}", "\n\n", text).strip()
    spec.toc = [{key: entry[key] for key in ("id", "title", "level")} for entry in toc]
    words = len(spec.body_text.split())
    spec.reading_minutes = max(1, math.ceil(words / WORDS_PER_MINUTE))


def render_block(lesson: LessonFile, token: Token, word: str, spec: LessonSpec) -> None:
    line = token.map[0] + 1 if token.map else 1
    base = line + 1  # YAML line 0 is the line after the opening fence
    if not token.content.strip():
        lesson.error(line, f"empty {word} block")
        return
    data = load_yaml(token.content)
    if isinstance(data, YamlProblem):
        lesson.error(base + data.line, f"{word} block: {data.message}")
        return
    if not isinstance(data, LineDict):
        lesson.error(line, f"the {word} block must be a YAML mapping (see content/README.md)")
        return
    _report_merged_items(lesson, token.content, data, base)
    context = BLOCKS[word](lesson, data, base, spec)
    if context is None:
        return
    token.meta["block_html"] = render_to_string(f"lessons/_blocks.html#{word}", context)


def _report_merged_items(lesson: LessonFile, text: str, data: Any, base: int) -> None:
    for number in merged_list_items(text, data):
        lesson.error(
            base + number,
            "this line looks like a list item, but YAML read it as part of the item above: "
            "indent its `-` exactly like the one above",
        )


def source_hash(text: str) -> str:
    return hashlib.sha256(f"{RENDER_VERSION}\0{text}".encode()).hexdigest()
