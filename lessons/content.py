"""Lesson files → validated, rendered lessons. Pure functions: no database in here.

The format is documented for instructors in content/README.md. In short: YAML front matter, a
CommonMark body, and fenced code blocks whose info word is a block type (`quiz`, `selfcheck`,
`interview`, `flashcards`, `pitfall`, `example`, `exercise`) with a YAML body.

`check_tree()` reads a content folder and returns tracks, lessons and `ContentError`s (each with
path and line). Rendering happens here, once; `lessons/sync.py` stores the result.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.template.loader import render_to_string
from django.utils.html import escape
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.front_matter import front_matter_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

# Bump when rendering changes, so that `content sync` re-renders files whose text did not change.
RENDER_VERSION = "5"

LESSON_FILE = re.compile(r"^(?P<step>\d{2,3})-(?P<slug>[a-z0-9]+(?:-[a-z0-9]+)*)\.md$")
TRACK_FILE = "track.yml"
FIXTURES_FOLDER = "fixtures"
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
WORDS_PER_MINUTE = 200

LEVELS = ("beginner", "intermediate", "advanced")
MODES = ("reading", "sql_sandbox")
SANDBOX_LANGUAGES = ("plpgsql", "sql")
PLAN_CHECKS = {"index_scan_on": str, "uses_index": str, "no_seq_scan": str, "max_rows_read": int}
BLOCK_TYPES = ("quiz", "selfcheck", "interview", "flashcards", "pitfall", "example", "exercise")

REQUIRED_KEYS = ("title", "step", "level", "mode", "reviewed", "version", "summary")
OPTIONAL_KEYS = ("discussion", "fixture", "sandbox_languages")
TRACK_KEYS = ("title", "summary", "order")


@dataclass(frozen=True)
class ContentError:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class Choice:
    key: str
    text_html: str
    correct: bool
    feedback_html: str


@dataclass
class Question:
    key: str
    quiz_title: str
    prompt_html: str
    explanation_html: str
    choices: list[Choice]

    @property
    def allows_many(self) -> bool:
        return sum(choice.correct for choice in self.choices) > 1


@dataclass
class QAItem:
    """A self-check item, an interview question or a flashcard (front = question)."""

    key: str
    question_html: str
    answer_html: str


@dataclass
class Example:
    key: str
    title: str
    sql: str
    note_html: str


@dataclass
class ExerciseSpec:
    key: str
    title: str
    prompt_html: str
    solution: str
    order_matters: bool
    hints_html: list[str]
    variants: list[dict[str, str]]
    plan_checks: list[dict[str, Any]]
    line: int = 0


@dataclass
class TrackSpec:
    slug: str
    title: str
    summary: str
    order: int
    path: str
    source_hash: str


@dataclass
class LessonSpec:
    """A lesson as parsed, validated and rendered from one file."""

    path: str  # relative to the content folder, e.g. "postgresql/01-first-queries.md"
    track: str
    slug: str
    step: int
    title: str
    level: str
    mode: str
    reviewed: datetime.date
    version: int
    summary: str
    discussion: list[str]
    fixture: str
    sandbox_languages: list[str]
    source_hash: str
    body_html: str = ""
    body_text: str = ""
    toc: list[dict[str, Any]] = field(default_factory=list)
    reading_minutes: int = 1
    questions: list[Question] = field(default_factory=list)
    self_checks: list[QAItem] = field(default_factory=list)
    interview: list[QAItem] = field(default_factory=list)
    flashcards: list[QAItem] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    exercises: list[ExerciseSpec] = field(default_factory=list)
    line_of_step: int = 1


@dataclass
class CheckResult:
    tracks: dict[str, TrackSpec]
    lessons: list[LessonSpec]
    errors: list[ContentError]
    # Every lesson file found (relative paths), valid or not: sync must not unpublish these.
    lesson_files: set[str]
    invalid_tracks: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.errors


# -- YAML with line numbers ------------------------------------------------------------------


class _LineDict(dict):
    line = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    mapping = _LineDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line
    mapping.key_lines = {
        str(key_node.value): key_node.start_mark.line for key_node, _ in node.value
    }
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _YamlProblem(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def _load_yaml(text: str) -> Any:
    """YAML → data whose mappings know their lines (0-based, relative to `text`)."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line if mark else 0
        return _YamlProblem(line, f"invalid YAML: {exc.problem or exc.context}")
    except yaml.YAMLError as exc:
        return _YamlProblem(0, f"invalid YAML: {exc}")


# -- Markdown --------------------------------------------------------------------------------


def _slugify_heading(text: str) -> str:
    slug = re.sub(r"[^\w\s-]", "", text.lower()).strip()
    return re.sub(r"[\s_-]+", "-", slug) or "section"


def _highlight(code: str, language: str) -> str:
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
        f'<pre class="highlight"><code>{_highlight(code, language)}</code></pre></div>\n'
    )


def _is_language(word: str) -> bool:
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
        .use(anchors_plugin, min_level=2, max_level=3, slug_func=_slugify_heading)
    )
    md.core.ruler.push("table_alignment_as_classes", _table_alignment_as_classes)
    md.add_render_rule("fence", _render_fence)
    return md


MARKDOWN = _new_markdown()


def _plain_text(tokens: Iterable[Token]) -> str:
    parts: list[str] = []
    for token in tokens:
        if token.children:
            parts.append(_plain_text(token.children))
        elif token.type in ("text", "code_inline"):
            parts.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif token.type in ("fence", "code_block") and "block_html" not in token.meta:
            parts.append("\n" + token.content)
        elif token.type.endswith("_close") and token.block:
            parts.append("\n")
    return "".join(parts)


# -- One lesson ------------------------------------------------------------------------------


class _Lesson:
    """The state of parsing one lesson file: its errors and what it links to."""

    def __init__(self, path: str, display_path: str, lesson_urls: dict[str, str]):
        self.path = path
        self.display_path = display_path
        self.lesson_urls = lesson_urls
        self.errors: list[ContentError] = []
        self.keys: dict[str, int] = {}
        self.public_text: list[str] = []

    def error(self, line: int, message: str) -> None:
        self.errors.append(ContentError(self.display_path, line, message))

    def claim_key(self, key: Any, line: int, what: str) -> str | None:
        if not isinstance(key, str) or not key.strip():
            self.error(line, f"{what} needs an `id`")
            return None
        if not SLUG.match(key):
            self.error(line, f"{what} id {key!r} must be lowercase letters, digits and hyphens")
            return None
        if key in self.keys:
            self.error(line, f"duplicate id {key!r} (first used on line {self.keys[key]})")
            return None
        self.keys[key] = line
        return key

    def markdown(self, text: str, line: int, inline: bool = False) -> str:
        """Render a Markdown field of a block, checking its links like the body's."""
        env: dict[str, Any] = {}
        if inline:
            tokens = MARKDOWN.parseInline(text, env)
            self.fix_links(tokens, line)
            return MARKDOWN.renderer.render(tokens, MARKDOWN.options, env)
        tokens = MARKDOWN.parse(text, env)
        self.fix_links(tokens, line)
        return MARKDOWN.renderer.render(tokens, MARKDOWN.options, env)

    def fix_links(self, tokens: list[Token], line: int | None = None) -> None:
        """Point links to other lesson files at their pages; report links to missing files."""
        current_line = line or 1
        for token in tokens:
            if token.map and line is None:
                current_line = token.map[0] + 1
            for child in token.children or []:
                if child.type != "link_open":
                    continue
                href = str(child.attrs.get("href", ""))
                target, _, anchor = href.partition("#")
                if not target.endswith(".md") or re.match(r"^[a-z][a-z0-9+.-]*:", target):
                    continue
                resolved = posixpath.normpath(posixpath.join(posixpath.dirname(self.path), target))
                url = self.lesson_urls.get(resolved)
                if url is None:
                    self.error(current_line, f"broken link to {target!r}: no such lesson file")
                    continue
                child.attrs["href"] = url + (f"#{anchor}" if anchor else "")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _check_keys(
    lesson: _Lesson,
    data: _LineDict,
    base: int,
    what: str,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
) -> bool:
    ok = True
    for key in data:
        if key not in required and key not in optional:
            lesson.error(base + data.line_of(key), f"unknown key {key!r} in {what}")
            ok = False
    for key in required:
        if key not in data:
            lesson.error(base + data.line, f"{what} is missing {key!r}")
            ok = False
        elif _text(data[key]) == "" and not isinstance(data[key], list):
            lesson.error(base + data.line_of(key), f"{what} has an empty {key!r}")
            ok = False
    return ok


def _items(lesson: _Lesson, data: Any, base: int, block: str, list_key: str) -> list[_LineDict]:
    """The list of mappings under `list_key` of a block, reporting what is wrong with it."""
    if not _check_keys(lesson, data, base, f"{block} block", (list_key,), ("title",)):
        return []
    items = data[list_key]
    if not isinstance(items, list) or not items:
        lesson.error(base + data.line_of(list_key), f"{block} block has no {list_key}")
        return []
    good = []
    for item in items:
        if not isinstance(item, _LineDict):
            lesson.error(base + data.line_of(list_key), f"each of {list_key} must be a mapping")
            continue
        good.append(item)
    return good


def _block_quiz(lesson: _Lesson, data: _LineDict, base: int, spec: LessonSpec) -> dict:
    title = _text(data.get("title")) or "Quiz"
    questions: list[Question] = []
    for item in _items(lesson, data, base, "quiz", "questions"):
        line = base + item.line
        ok = _check_keys(
            lesson, item, base, "quiz question", ("id", "question", "choices", "explanation")
        )
        key = lesson.claim_key(item.get("id"), line, "quiz question")
        choices_data = item.get("choices")
        if not isinstance(choices_data, list) or len(choices_data) < 2:
            lesson.error(line, f"quiz question {key or ''!r} needs at least two choices")
            continue
        choices: list[Choice] = []
        choice_keys: set[str] = set()
        for index, choice in enumerate(choices_data):
            if not isinstance(choice, _LineDict):
                lesson.error(line, "each choice must be a mapping with `text`")
                ok = False
                continue
            ok &= _check_keys(
                lesson, choice, base, "choice", ("text",), ("correct", "feedback", "id")
            )
            choice_key = _text(choice.get("id")) or "abcdefghijklmnopqrstuvwxyz"[index % 26]
            if choice_key in choice_keys or not SLUG.match(choice_key):
                lesson.error(base + choice.line, f"bad or duplicate choice id {choice_key!r}")
                ok = False
            choice_keys.add(choice_key)
            correct = choice.get("correct", False)
            if not isinstance(correct, bool):
                lesson.error(base + choice.line_of("correct"), "`correct` must be true or false")
                ok = False
            choice_line = base + choice.line
            choices.append(
                Choice(
                    key=choice_key,
                    text_html=lesson.markdown(_text(choice.get("text")), choice_line, True),
                    correct=correct is True,
                    feedback_html=lesson.markdown(_text(choice.get("feedback")), choice_line),
                )
            )
            lesson.public_text.append(_text(choice.get("text")))
        if choices and not any(choice.correct for choice in choices):
            lesson.error(line, f"quiz question {key or ''!r} has no correct choice")
            continue
        if not ok or key is None:
            continue
        lesson.public_text.append(_text(item["question"]))
        questions.append(
            Question(
                key=key,
                quiz_title=title,
                prompt_html=lesson.markdown(_text(item["question"]), line),
                explanation_html=lesson.markdown(_text(item["explanation"]), line),
                choices=choices,
            )
        )
    first = len(spec.questions) + 1
    spec.questions.extend(questions)
    return {"title": title, "questions": questions, "first_number": first}


def _qa_items(
    lesson: _Lesson,
    data: _LineDict,
    base: int,
    block: str,
    list_key: str,
    names: tuple[str, str],
    searchable_answers: bool = False,
) -> list[QAItem]:
    result = []
    for item in _items(lesson, data, base, block, list_key):
        line = base + item.line
        ok = _check_keys(lesson, item, base, f"{block} item", ("id", *names))
        key = lesson.claim_key(item.get("id"), line, f"{block} item")
        if not ok or key is None:
            continue
        question, answer = (_text(item[name]) for name in names)
        lesson.public_text += [question, answer] if searchable_answers else [question]
        result.append(
            QAItem(
                key=key,
                question_html=lesson.markdown(question, line, inline=block == "flashcards"),
                answer_html=lesson.markdown(answer, line, inline=block == "flashcards"),
            )
        )
    return result


def _block_selfcheck(lesson: _Lesson, data: _LineDict, base: int, spec: LessonSpec) -> dict:
    items = _qa_items(lesson, data, base, "selfcheck", "items", ("question", "answer"))
    spec.self_checks.extend(items)
    return {"title": _text(data.get("title")) or "Self-check", "items": items}


def _block_interview(lesson: _Lesson, data: _LineDict, base: int, spec: LessonSpec) -> dict:
    # Model answers are on the page (in <details>), so search may show them too.
    items = _qa_items(lesson, data, base, "interview", "items", ("question", "answer"), True)
    spec.interview.extend(items)
    return {"title": _text(data.get("title")) or "Interview questions", "items": items}


def _block_flashcards(lesson: _Lesson, data: _LineDict, base: int, spec: LessonSpec) -> dict:
    cards = _qa_items(lesson, data, base, "flashcards", "cards", ("front", "back"), True)
    spec.flashcards.extend(cards)
    return {"title": _text(data.get("title")) or "Flashcards", "cards": cards}


def _block_pitfall(lesson: _Lesson, data: _LineDict, base: int, spec: LessonSpec) -> dict | None:
    if not _check_keys(lesson, data, base, "pitfall block", ("title", "body")):
        return None
    lesson.public_text += [_text(data["title"]), _text(data["body"])]
    return {
        "title_html": lesson.markdown(_text(data["title"]), base + data.line, inline=True),
        "body_html": lesson.markdown(_text(data["body"]), base + data.line_of("body")),
    }


def _block_example(lesson: _Lesson, data: _LineDict, base: int, spec: LessonSpec) -> dict | None:
    ok = _check_keys(lesson, data, base, "example block", ("id", "sql"), ("title", "note"))
    key = lesson.claim_key(data.get("id"), base + data.line, "example")
    if spec.mode != "sql_sandbox":
        lesson.error(base + data.line, "runnable examples need `mode: sql_sandbox`")
        ok = False
    if not ok or key is None:
        return None
    example = Example(
        key=key,
        title=_text(data.get("title")),
        sql=_text(data["sql"]) + "\n",
        note_html=lesson.markdown(_text(data.get("note")), base + data.line_of("note")),
    )
    lesson.public_text += [example.title, example.sql]
    spec.examples.append(example)
    return {"example": example, "code_html": _highlight(example.sql, "sql")}


def _block_exercise(lesson: _Lesson, data: _LineDict, base: int, spec: LessonSpec) -> dict | None:
    ok = _check_keys(
        lesson,
        data,
        base,
        "exercise block",
        ("id", "prompt", "solution"),
        ("title", "order_matters", "hints", "variants", "plan_checks"),
    )
    key = lesson.claim_key(data.get("id"), base + data.line, "exercise")
    order_matters = data.get("order_matters", False)
    if not isinstance(order_matters, bool):
        lesson.error(base + data.line_of("order_matters"), "`order_matters` must be true or false")
        ok = False
    hints = data.get("hints") or []
    # A one-line hint with ": " in it is a YAML mapping, which would be shown as a Python dict.
    if not isinstance(hints, list) or not all(
        isinstance(hint, str | int | float) and _text(hint) for hint in hints
    ):
        lesson.error(
            base + data.line_of("hints"),
            "`hints` must be a list of non-empty texts (quote a hint that contains `: `)",
        )
        ok, hints = False, []
    variants: list[dict[str, str]] = []
    for variant in data.get("variants") or []:
        if not isinstance(variant, _LineDict) or not _check_keys(
            lesson, variant, base, "variant", ("id", "setup")
        ):
            ok = False
            continue
        variants.append({"id": _text(variant["id"]), "setup": _text(variant["setup"])})
    plan_checks: list[dict[str, Any]] = []
    for check in data.get("plan_checks") or []:
        line = base + (check.line if isinstance(check, _LineDict) else data.line_of("plan_checks"))
        if not isinstance(check, _LineDict) or len(check) != 1:
            lesson.error(line, f"each plan check is one of: {', '.join(PLAN_CHECKS)}")
            ok = False
            continue
        ((name, value),) = check.items()
        if name not in PLAN_CHECKS:
            lesson.error(line, f"unknown plan check {name!r} (use {', '.join(PLAN_CHECKS)})")
            ok = False
        elif not isinstance(value, PLAN_CHECKS[name]) or isinstance(value, bool) or value == "":
            kind = "a number" if PLAN_CHECKS[name] is int else "a table or index name"
            lesson.error(line, f"plan check {name!r} needs {kind}")
            ok = False
        else:
            plan_checks.append({"check": name, "value": value})
    if spec.mode != "sql_sandbox":
        lesson.error(base + data.line, "exercises need `mode: sql_sandbox`")
        ok = False
    if not ok or key is None:
        return None
    exercise = ExerciseSpec(
        key=key,
        title=_text(data.get("title")),
        prompt_html=lesson.markdown(_text(data["prompt"]), base + data.line_of("prompt")),
        solution=_text(data["solution"]) + "\n",
        order_matters=order_matters,
        hints_html=[
            lesson.markdown(_text(hint), base + data.line_of("hints"), inline=True)
            for hint in hints
        ],
        variants=variants,
        plan_checks=plan_checks,
        line=base + data.line,
    )
    lesson.public_text += [exercise.title, _text(data["prompt"])]
    spec.exercises.append(exercise)
    lesson_ref = f"{spec.track}/{spec.slug}"
    return {"exercise": exercise, "number": len(spec.exercises), "lesson_ref": lesson_ref}


_BLOCKS = {
    "quiz": _block_quiz,
    "selfcheck": _block_selfcheck,
    "interview": _block_interview,
    "flashcards": _block_flashcards,
    "pitfall": _block_pitfall,
    "example": _block_example,
    "exercise": _block_exercise,
}


def _front_matter(
    lesson: _Lesson, tokens: list[Token], fixtures: set[str] | None
) -> dict[str, Any] | None:
    if not tokens or tokens[0].type != "front_matter":
        lesson.error(1, "the file must start with YAML front matter between `---` lines")
        return None
    data = _load_yaml(tokens[0].content)
    if isinstance(data, _YamlProblem):
        lesson.error(2 + data.line, data.message)
        return None
    if not isinstance(data, _LineDict):
        lesson.error(1, "the front matter must be a YAML mapping")
        return None
    base = 2  # the line after the opening `---`
    for key in data:
        if key not in REQUIRED_KEYS and key not in OPTIONAL_KEYS:
            lesson.error(base + data.line_of(key), f"unknown front-matter key {key!r}")
    for key in REQUIRED_KEYS:
        if key not in data or data[key] is None or _text(data[key]) == "":
            lesson.error(1, f"missing front-matter key {key!r}")
    values: dict[str, Any] = {}

    def check(key: str, ok: bool, message: str) -> None:
        if key in data and data[key] is not None:
            if ok:
                values[key] = data[key]
            else:
                lesson.error(base + data.line_of(key), message)

    get = data.get
    check("title", isinstance(get("title"), str), "`title` must be text")
    step = get("step")
    check(
        "step",
        isinstance(step, int) and not isinstance(step, bool) and step >= 1,
        "`step` must be a whole number from 1",
    )
    check("level", get("level") in LEVELS, f"`level` must be one of {', '.join(LEVELS)}")
    check("mode", get("mode") in MODES, f"`mode` must be one of {', '.join(MODES)}")
    check(
        "reviewed",
        isinstance(get("reviewed"), datetime.date),
        "`reviewed` must be a date written YYYY-MM-DD",
    )
    version = get("version")
    check(
        "version",
        isinstance(version, int) and not isinstance(version, bool) and version >= 1,
        "`version` must be a whole number from 1",
    )
    check("summary", isinstance(get("summary"), str), "`summary` must be text")
    topics = get("discussion", [])
    check(
        "discussion",
        isinstance(topics, list) and all(_text(t) for t in topics),
        "`discussion` must be a list of topics",
    )
    languages = get("sandbox_languages", [])
    check(
        "sandbox_languages",
        isinstance(languages, list) and all(lang in SANDBOX_LANGUAGES for lang in languages),
        f"`sandbox_languages` must be a list of: {', '.join(SANDBOX_LANGUAGES)}",
    )
    fixture = get("fixture")
    if fixture is not None:
        if not isinstance(fixture, str) or "/" in fixture or not fixture.endswith(".sql"):
            lesson.error(
                base + data.line_of("fixture"), "`fixture` must be a file name like shop.sql"
            )
        elif fixtures is not None and fixture not in fixtures:
            lesson.error(
                base + data.line_of("fixture"),
                f"fixture file {FIXTURES_FOLDER}/{fixture} does not exist",
            )
        else:
            values["fixture"] = fixture
    if get("mode") == "sql_sandbox" and not fixture:
        lesson.error(1, "`mode: sql_sandbox` needs a `fixture`")
    values["_step_line"] = base + data.line_of("step")
    return values


def parse_lesson(
    text: str,
    path: str,
    *,
    display_path: str | None = None,
    lesson_urls: dict[str, str] | None = None,
    fixtures: set[str] | None = None,
) -> tuple[LessonSpec | None, list[ContentError]]:
    """Parse, validate and render one lesson.

    `path` is relative to the content folder ("postgresql/03-indexes.md"); messages use
    `display_path` (default: path). `lesson_urls` maps lesson paths to their URLs, for links;
    `fixtures` is the set of fixture file names, or None not to check them.
    """
    display = display_path or path
    lesson = _Lesson(path, display, lesson_urls or {})
    track, _, name = path.rpartition("/")
    match = LESSON_FILE.match(name)
    if not track or not match:
        lesson.error(
            1, "lesson files are named <track>/<NN>-<slug>.md, e.g. postgresql/01-intro.md"
        )
        return None, lesson.errors

    env: dict[str, Any] = {}
    tokens = MARKDOWN.parse(text, env)
    meta = _front_matter(lesson, tokens, fixtures)
    if meta is None:
        return None, lesson.errors
    # With bad front-matter values, go on with stand-ins so that the body is checked too.
    step = meta.get("step", int(match["step"]))
    if step != int(match["step"]):
        lesson.error(
            meta["_step_line"],
            f"step {step} does not match the file name's number {match['step']}",
        )
    spec = LessonSpec(
        path=path,
        track=track,
        slug=match["slug"],
        step=step,
        title=meta.get("title", "").strip(),
        level=meta.get("level", LEVELS[0]),
        mode=meta.get("mode", MODES[1] if meta.get("fixture") else MODES[0]),
        reviewed=meta.get("reviewed", datetime.date.today()),
        version=meta.get("version", 1),
        summary=meta.get("summary", "").strip(),
        discussion=[_text(topic) for topic in meta.get("discussion", [])],
        fixture=meta.get("fixture", ""),
        sandbox_languages=list(meta.get("sandbox_languages", [])),
        source_hash=source_hash(text),
        line_of_step=meta["_step_line"],
    )

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
        if token.type in ("inline", "fence", "code_block", "table_open"):
            has_body = has_body or token.type != "inline" or bool(token.content.strip())
        if token.type != "fence":
            continue
        word = token.info.strip().split(maxsplit=1)[0] if token.info.strip() else ""
        if word in _BLOCKS:
            _render_block(lesson, token, word, spec)
        elif not _is_language(word):
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
            entry["title"] = _plain_text([tokens[index + 1]]).strip()
    if lesson.errors:
        return None, sorted(lesson.errors, key=lambda error: error.line)

    spec.body_html = MARKDOWN.renderer.render(tokens, MARKDOWN.options, env)
    body_text = _plain_text(tokens)
    text = body_text + "\n" + "\n".join(lesson.public_text)
    spec.body_text = re.sub(r"\n{3,}", "\n\n", text).strip()
    spec.toc = [{key: entry[key] for key in ("id", "title", "level")} for entry in toc]
    words = len(spec.body_text.split())
    spec.reading_minutes = max(1, math.ceil(words / WORDS_PER_MINUTE))
    return spec, []


def _render_block(lesson: _Lesson, token: Token, word: str, spec: LessonSpec) -> None:
    line = token.map[0] + 1 if token.map else 1
    base = line + 1  # YAML line 0 is the line after the opening fence
    if not token.content.strip():
        lesson.error(line, f"empty {word} block")
        return
    data = _load_yaml(token.content)
    if isinstance(data, _YamlProblem):
        lesson.error(base + data.line, f"{word} block: {data.message}")
        return
    if not isinstance(data, _LineDict):
        lesson.error(line, f"the {word} block must be a YAML mapping (see content/README.md)")
        return
    context = _BLOCKS[word](lesson, data, base, spec)
    if context is None:
        return
    token.meta["block_html"] = render_to_string(f"lessons/_blocks.html#{word}", context)


def source_hash(text: str) -> str:
    return hashlib.sha256(f"{RENDER_VERSION}\0{text}".encode()).hexdigest()


# -- Tracks and trees ------------------------------------------------------------------------


def parse_track(
    text: str, path: str, display_path: str | None = None
) -> tuple[TrackSpec | None, list[ContentError]]:
    """Parse `<track>/track.yml`."""
    display = display_path or path
    lesson = _Lesson(path, display, {})
    data = _load_yaml(text)
    if isinstance(data, _YamlProblem):
        lesson.error(1 + data.line, data.message)
        return None, lesson.errors
    if not isinstance(data, _LineDict):
        lesson.error(1, "track.yml must be a YAML mapping with title, summary and order")
        return None, lesson.errors
    _check_keys(lesson, data, 1, "track.yml", TRACK_KEYS)
    order = data.get("order")
    if "order" in data and (not isinstance(order, int) or isinstance(order, bool)):
        lesson.error(1 + data.line_of("order"), "`order` must be a whole number")
    if lesson.errors:
        return None, lesson.errors
    slug = path.split("/")[0]
    return (
        TrackSpec(
            slug=slug,
            title=_text(data["title"]),
            summary=_text(data["summary"]),
            order=order,
            path=path,
            source_hash=source_hash(text),
        ),
        [],
    )


def lesson_url(track: str, slug: str) -> str:
    return f"/learn/{track}/{slug}/"


def lesson_files(content_dir: Path) -> list[str]:
    """Every lesson file under content_dir, as paths relative to it ("track/NN-slug.md")."""
    found = []
    for path in sorted(content_dir.glob("*/*.md")):
        if path.parent.name != FIXTURES_FOLDER and not path.parent.name.startswith("."):
            found.append(path.relative_to(content_dir).as_posix())
    return found


def _display(content_dir: Path, relative: str) -> str:
    path = content_dir / relative
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


def check_tree(content_dir: Path, only: Iterable[str] | None = None) -> CheckResult:
    """Validate and render a content folder (or `only` some of its lesson files).

    Links and duplicates are checked against every lesson file of the folder, so checking
    one file still finds a link to a lesson that does not exist.
    """
    content_dir = Path(content_dir)
    files = lesson_files(content_dir)
    fixtures_dir = content_dir / FIXTURES_FOLDER
    fixtures = {p.name for p in fixtures_dir.glob("*.sql")} if fixtures_dir.is_dir() else set()
    urls = {}
    for relative in files:
        match = LESSON_FILE.match(relative.rpartition("/")[2])
        if match:
            urls[relative] = lesson_url(relative.split("/")[0], match["slug"])
    result = CheckResult(tracks={}, lessons=[], errors=[], lesson_files=set(files))

    track_names = sorted({relative.split("/")[0] for relative in files})
    for track in track_names:
        track_path = f"{track}/{TRACK_FILE}"
        display = _display(content_dir, track_path)
        if not SLUG.match(track):
            result.errors.append(ContentError(display, 1, f"track folder {track!r} is not a slug"))
            result.invalid_tracks.add(track)
            continue
        if not (content_dir / track_path).is_file():
            result.errors.append(
                ContentError(display, 1, "missing track.yml (title, summary, order)")
            )
            result.invalid_tracks.add(track)
            continue
        spec, errors = parse_track((content_dir / track_path).read_text(), track_path, display)
        result.errors += errors
        if spec:
            result.tracks[track] = spec
        else:
            result.invalid_tracks.add(track)

    selected = set(only) if only is not None else set(files)
    parsed: list[LessonSpec] = []
    lesson_errors: list[ContentError] = []
    # Every file is parsed, even with `only`, so duplicates across files are still found.
    for relative in files:
        spec, errors = parse_lesson(
            (content_dir / relative).read_text(),
            relative,
            display_path=_display(content_dir, relative),
            lesson_urls=urls,
            fixtures=fixtures,
        )
        lesson_errors += [error for error in errors if relative in selected]
        if spec:
            parsed.append(spec)
    kept = _without_duplicates(content_dir, parsed, lesson_errors, selected)
    result.errors += lesson_errors
    result.lessons = [spec for spec in kept if spec.path in selected]
    return result


def _without_duplicates(
    content_dir: Path, lessons: list[LessonSpec], errors: list[ContentError], selected: set[str]
) -> list[LessonSpec]:
    """Drop lessons that share a step or a slug with an earlier file of their track.

    The first file (in name order) keeps its place; the later ones are reported (when they are
    among the `selected` files) and not published.
    """
    seen_steps: dict[tuple[str, int], str] = {}
    seen_slugs: dict[tuple[str, str], str] = {}
    kept = []
    for spec in sorted(lessons, key=lambda spec: spec.path):
        display = _display(content_dir, spec.path)
        problems = []
        first = seen_steps.setdefault((spec.track, spec.step), spec.path)
        if first != spec.path:
            problems.append(
                ContentError(
                    display, spec.line_of_step, f"duplicate step {spec.step} (also in {first})"
                )
            )
        first = seen_slugs.setdefault((spec.track, spec.slug), spec.path)
        if first != spec.path:
            problems.append(
                ContentError(display, 1, f"duplicate slug {spec.slug!r} (also in {first})")
            )
        if problems:
            errors.extend(problems if spec.path in selected else [])
        else:
            kept.append(spec)
    return kept


def preview_lesson(
    content_dir: Path, path: str, text: str
) -> tuple[LessonSpec | None, list[ContentError]]:
    """Parse a draft as if it were the file content_dir/path (links and fixture checked)."""
    content_dir = Path(content_dir)
    urls = {}
    for relative in [*lesson_files(content_dir), path]:
        match = LESSON_FILE.match(relative.rpartition("/")[2])
        if match:
            urls[relative] = lesson_url(relative.split("/")[0], match["slug"])
    fixtures_dir = content_dir / FIXTURES_FOLDER
    fixtures = {p.name for p in fixtures_dir.glob("*.sql")} if fixtures_dir.is_dir() else set()
    return parse_lesson(text, path, lesson_urls=urls, fixtures=fixtures)
