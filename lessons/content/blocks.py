"""The structured blocks of a lesson (quiz, selfcheck, interview, flashcards, pitfall, example,
exercise): each validated against its keys, then rendered into the lesson's spec.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from markdown_it.token import Token

from lessons.content.markdown import MARKDOWN, highlight_code
from lessons.content.specs import (
    PLAN_CHECKS,
    RUNNABLE_MODES,
    SLUG,
    Choice,
    ContentError,
    Example,
    ExerciseSpec,
    LessonSpec,
    QAItem,
    Question,
)
from lessons.content.yaml_lines import LineDict

# -- One lesson ------------------------------------------------------------------------------


class LessonFile:
    """The state of parsing one lesson file: its errors and what it links to."""

    def __init__(self, path: str, display_path: str, lesson_urls: dict[str, str]):
        self.path = path
        self.display_path = display_path
        self.lesson_urls = lesson_urls
        self.errors: list[ContentError] = []
        self.keys: dict[str, int] = {}
        self.public_text: list[str] = []
        # (lesson file, anchor, line) of every link to a heading: checked once every lesson's
        # anchors are known (tree.check_tree).
        self.anchor_links: list[tuple[str, str, int]] = []

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
                if not target and anchor:
                    self.anchor_links.append((self.path, anchor, current_line))
                    continue
                if not target.endswith(".md") or re.match(r"^[a-z][a-z0-9+.-]*:", target):
                    continue
                resolved = posixpath.normpath(posixpath.join(posixpath.dirname(self.path), target))
                url = self.lesson_urls.get(resolved)
                if url is None:
                    self.error(current_line, f"broken link to {target!r}: no such lesson file")
                    continue
                if anchor:
                    self.anchor_links.append((resolved, anchor, current_line))
                child.attrs["href"] = url + (f"#{anchor}" if anchor else "")


def text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def check_keys(
    lesson: LessonFile,
    data: LineDict,
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
        elif text_of(data[key]) == "" and not isinstance(data[key], list):
            lesson.error(base + data.line_of(key), f"{what} has an empty {key!r}")
            ok = False
    return ok


def block_items(
    lesson: LessonFile, data: Any, base: int, block: str, list_key: str
) -> list[LineDict]:
    """The list of mappings under `list_key` of a block, reporting what is wrong with it."""
    if not check_keys(lesson, data, base, f"{block} block", (list_key,), ("title",)):
        return []
    items = data[list_key]
    if not isinstance(items, list) or not items:
        lesson.error(base + data.line_of(list_key), f"{block} block has no {list_key}")
        return []
    good = []
    for item in items:
        if not isinstance(item, LineDict):
            lesson.error(base + data.line_of(list_key), f"each of {list_key} must be a mapping")
            continue
        good.append(item)
    return good


def _block_quiz(lesson: LessonFile, data: LineDict, base: int, spec: LessonSpec) -> dict:
    title = text_of(data.get("title")) or "Quiz"
    questions: list[Question] = []
    for item in block_items(lesson, data, base, "quiz", "questions"):
        line = base + item.line
        ok = check_keys(
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
            if not isinstance(choice, LineDict):
                lesson.error(line, "each choice must be a mapping with `text`")
                ok = False
                continue
            ok &= check_keys(
                lesson, choice, base, "choice", ("text",), ("correct", "feedback", "id")
            )
            choice_key = text_of(choice.get("id")) or "abcdefghijklmnopqrstuvwxyz"[index % 26]
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
                    text_html=lesson.markdown(text_of(choice.get("text")), choice_line, True),
                    correct=correct is True,
                    feedback_html=lesson.markdown(text_of(choice.get("feedback")), choice_line),
                )
            )
            lesson.public_text.append(text_of(choice.get("text")))
        if choices and not any(choice.correct for choice in choices):
            lesson.error(line, f"quiz question {key or ''!r} has no correct choice")
            continue
        if not ok or key is None:
            continue
        lesson.public_text.append(text_of(item["question"]))
        questions.append(
            Question(
                key=key,
                quiz_title=title,
                prompt_html=lesson.markdown(text_of(item["question"]), line),
                explanation_html=lesson.markdown(text_of(item["explanation"]), line),
                choices=choices,
            )
        )
    first = len(spec.questions) + 1
    spec.questions.extend(questions)
    return {"title": title, "questions": questions, "first_number": first}


def _qa_items(
    lesson: LessonFile,
    data: LineDict,
    base: int,
    block: str,
    list_key: str,
    names: tuple[str, str],
    searchable_answers: bool = False,
) -> list[QAItem]:
    result = []
    for item in block_items(lesson, data, base, block, list_key):
        line = base + item.line
        ok = check_keys(lesson, item, base, f"{block} item", ("id", *names))
        key = lesson.claim_key(item.get("id"), line, f"{block} item")
        if not ok or key is None:
            continue
        question, answer = (text_of(item[name]) for name in names)
        lesson.public_text += [question, answer] if searchable_answers else [question]
        result.append(
            QAItem(
                key=key,
                question_html=lesson.markdown(question, line, inline=block == "flashcards"),
                answer_html=lesson.markdown(answer, line, inline=block == "flashcards"),
            )
        )
    return result


def _block_selfcheck(lesson: LessonFile, data: LineDict, base: int, spec: LessonSpec) -> dict:
    items = _qa_items(lesson, data, base, "selfcheck", "items", ("question", "answer"))
    spec.self_checks.extend(items)
    return {"title": text_of(data.get("title")) or "Self-check", "items": items}


def _block_interview(lesson: LessonFile, data: LineDict, base: int, spec: LessonSpec) -> dict:
    # Model answers are on the page (in <details>), so search may show them too.
    items = _qa_items(lesson, data, base, "interview", "items", ("question", "answer"), True)
    spec.interview.extend(items)
    return {"title": text_of(data.get("title")) or "Interview questions", "items": items}


def _block_flashcards(lesson: LessonFile, data: LineDict, base: int, spec: LessonSpec) -> dict:
    cards = _qa_items(lesson, data, base, "flashcards", "cards", ("front", "back"), True)
    spec.flashcards.extend(cards)
    return {"title": text_of(data.get("title")) or "Flashcards", "cards": cards}


def _block_pitfall(lesson: LessonFile, data: LineDict, base: int, spec: LessonSpec) -> dict | None:
    if not check_keys(lesson, data, base, "pitfall block", ("title", "body")):
        return None
    lesson.public_text += [text_of(data["title"]), text_of(data["body"])]
    return {
        "title_html": lesson.markdown(text_of(data["title"]), base + data.line, inline=True),
        "body_html": lesson.markdown(text_of(data["body"]), base + data.line_of("body")),
    }


def _block_example(lesson: LessonFile, data: LineDict, base: int, spec: LessonSpec) -> dict | None:
    # In a django_lab lesson an example is Python (`code:`), kept in Example.sql all the same.
    lab = spec.mode == "django_lab"
    code_key, language = ("code", "python") if lab else ("sql", "sql")
    ok = check_keys(lesson, data, base, "example block", ("id", code_key), ("title", "note"))
    key = lesson.claim_key(data.get("id"), base + data.line, "example")
    if spec.mode not in RUNNABLE_MODES:
        lesson.error(
            base + data.line, "runnable examples need `mode: sql_sandbox` or `mode: django_lab`"
        )
        ok = False
    if not ok or key is None:
        return None
    example = Example(
        key=key,
        title=text_of(data.get("title")),
        sql=text_of(data[code_key]) + "\n",
        note_html=lesson.markdown(text_of(data.get("note")), base + data.line_of("note")),
        code=text_of(data[code_key]) + "\n" if lab else "",
    )
    lesson.public_text += [example.title, example.sql]
    spec.examples.append(example)
    return {"example": example, "code_html": highlight_code(example.sql, language), "lab": lab}


def _variants(lesson: LessonFile, data: LineDict, base: int) -> list[dict[str, str]] | None:
    """An exercise's hidden data variants, or None (with errors) when one is malformed."""
    variants: list[dict[str, str]] = []
    ok = True
    for variant in data.get("variants") or []:
        if not isinstance(variant, LineDict) or not check_keys(
            lesson, variant, base, "variant", ("id", "setup")
        ):
            ok = False
            continue
        variants.append({"id": text_of(variant["id"]), "setup": text_of(variant["setup"])})
    return variants if ok else None


def _plan_checks(lesson: LessonFile, data: LineDict, base: int) -> list[dict[str, Any]] | None:
    """An exercise's plan checks, or None (with errors) when one is malformed."""
    plan_checks: list[dict[str, Any]] = []
    ok = True
    for check in data.get("plan_checks") or []:
        line = base + (check.line if isinstance(check, LineDict) else data.line_of("plan_checks"))
        hidden = check.get("hidden", False) if isinstance(check, LineDict) else False
        named = [key for key in check if key != "hidden"] if isinstance(check, LineDict) else []
        if len(named) != 1:
            lesson.error(
                line,
                f"each plan check is one of: {', '.join(PLAN_CHECKS)} "
                "(optionally with `hidden: true` on the next line)",
            )
            ok = False
            continue
        name, value = named[0], check[named[0]]
        if not isinstance(hidden, bool):
            lesson.error(line, "a plan check's `hidden` must be true or false")
            ok = False
        elif name not in PLAN_CHECKS:
            lesson.error(line, f"unknown plan check {name!r} (use {', '.join(PLAN_CHECKS)})")
            ok = False
        elif PLAN_CHECKS[name] is bool and value is not True:
            lesson.error(line, f"plan check {name!r} is written `{name}: true`")
            ok = False
        elif PLAN_CHECKS[name] is not bool and (
            not isinstance(value, PLAN_CHECKS[name]) or isinstance(value, bool) or value == ""
        ):
            kind = "a number" if PLAN_CHECKS[name] is int else "a table or index name"
            lesson.error(line, f"plan check {name!r} needs {kind}")
            ok = False
        else:
            plan_checks.append(
                {"check": name, "value": value} | ({"hidden": True} if hidden else {})
            )
    return plan_checks if ok else None


def _max_queries(lesson: LessonFile, data: LineDict, base: int) -> int | None | bool:
    """A lab exercise's ``max_queries``: None when absent, False (reported) when not a whole
    number from 1."""
    max_queries = data.get("max_queries")
    if max_queries is not None and (
        not isinstance(max_queries, int) or isinstance(max_queries, bool) or max_queries < 1
    ):
        lesson.error(
            base + data.line_of("max_queries"), "`max_queries` must be a whole number from 1"
        )
        return False
    return max_queries


def _hints(lesson: LessonFile, data: LineDict, base: int) -> list | None:
    """The exercise's hints, or None (reported) when they are not a list of texts."""
    hints = data.get("hints") or []
    # A one-line hint with ": " in it is a YAML mapping, which would be shown as a Python dict.
    if not isinstance(hints, list) or not all(
        isinstance(hint, str | int | float) and text_of(hint) for hint in hints
    ):
        lesson.error(
            base + data.line_of("hints"),
            "`hints` must be a list of non-empty texts (quote a hint that contains `: `)",
        )
        return None
    return hints


def _block_exercise(lesson: LessonFile, data: LineDict, base: int, spec: LessonSpec) -> dict | None:
    ok = check_keys(
        lesson,
        data,
        base,
        "exercise block",
        ("id", "prompt", "solution"),
        ("title", "order_matters", "hints", "variants", "plan_checks")
        + (("max_queries",) if spec.mode == "django_lab" else ()),
    )
    max_queries = _max_queries(lesson, data, base)
    key = lesson.claim_key(data.get("id"), base + data.line, "exercise")
    order_matters = data.get("order_matters", False)
    if not isinstance(order_matters, bool):
        lesson.error(base + data.line_of("order_matters"), "`order_matters` must be true or false")
        ok = False
    hints = _hints(lesson, data, base)
    ok = ok and max_queries is not False and hints is not None
    max_queries, hints = max_queries or None, hints or []
    variants = _variants(lesson, data, base)
    plan_checks = _plan_checks(lesson, data, base)
    ok = ok and variants is not None and plan_checks is not None
    if spec.mode not in RUNNABLE_MODES:
        lesson.error(base + data.line, "exercises need `mode: sql_sandbox` or `mode: django_lab`")
        ok = False
    if not ok or key is None:
        return None
    exercise = ExerciseSpec(
        key=key,
        title=text_of(data.get("title")),
        prompt_html=lesson.markdown(text_of(data["prompt"]), base + data.line_of("prompt")),
        solution=text_of(data["solution"]) + "\n",
        order_matters=order_matters,
        hints_html=[
            lesson.markdown(text_of(hint), base + data.line_of("hints"), inline=True)
            for hint in hints
        ],
        variants=variants,
        plan_checks=plan_checks,
        line=base + data.line,
        max_queries=max_queries,
    )
    lesson.public_text += [exercise.title, text_of(data["prompt"])]
    spec.exercises.append(exercise)
    lesson_ref = f"{spec.track}/{spec.slug}"
    return {
        "exercise": exercise,
        "number": len(spec.exercises),
        "lesson_ref": lesson_ref,
        "mode": spec.mode,
    }


BLOCKS = {
    "quiz": _block_quiz,
    "selfcheck": _block_selfcheck,
    "interview": _block_interview,
    "flashcards": _block_flashcards,
    "pitfall": _block_pitfall,
    "example": _block_example,
    "exercise": _block_exercise,
}
