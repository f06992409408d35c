"""Reading the conditions PostgreSQL prints in a plan (``Filter``, ``Index Cond``…): which
columns they compare, which they wrap in a cast or a call, and what each AND'ed part compares.
Pure functions over the text, for ``plan_advice``; string literals are blanked first so that
nothing inside quotes can look like a column."""

from __future__ import annotations

import re

_STRING = re.compile(r"'(?:[^']|'')*'")
_COMPARED = re.compile(
    r"(?<![\w.:])(?:\w+\.)?\(?\"?([A-Za-z_][\w$]*)\"?\)?\s*"
    r"(=|<>|!=|<=|>=|<|>|~~\*?|!~~\*?|IS\b|@>|<@|&&)"
)
_CAST = re.compile(r"(?<![\w$])\((?:\w+\.)?\"?([A-Za-z_][\w$]*)\"?\)::[\w]+(?: [a-z]+)*")
_CALL = re.compile(r"\b([A-Za-z_][\w$]*)\(([^()]*)\)")
_NOT_COLUMNS = {"and", "or", "not", "null", "true", "false", "any", "all", "is", "array"}


def _bare(condition: str) -> str:
    """The condition with its string literals blanked (same length, so positions still point
    into the original), so they cannot look like columns."""
    return _STRING.sub(lambda match: "'" + " " * (len(match.group(0)) - 2) + "'", condition)


def compared_columns(condition: str) -> list[tuple[str, str]]:
    """(column, operator) for each bare column compared in ``condition``, in order, as
    PostgreSQL prints conditions: ``((city = 'Lyon'::text) AND (score > 10))``."""
    found: list[tuple[str, str]] = []
    text = _bare(condition)
    for match in _COMPARED.finditer(text):
        column, operator = match.group(1), match.group(2)
        if column.lower() in _NOT_COLUMNS or any(column == seen for seen, _ in found):
            continue
        if _is_wrapped(text, match.start(1), match.end(1)):
            continue
        found.append((column, operator.strip()))
    return found


def _is_wrapped(text: str, start: int, end: int) -> bool:
    """Whether the name at text[start:end] sits inside a cast or a call."""
    after = text[end:].lstrip('"')
    if after.startswith(")::"):
        return True
    if re.search(r"[\w$]\(\s*\"?$", text[:start]):
        return True
    return after.startswith(")") and re.search(r"[\w$]\([^()]*$", text[:start]) is not None


def wrapped_columns(condition: str) -> list[tuple[str, str]]:
    """(column, expression) for each column the condition wraps in a cast or a call:
    ``(customer_id)::text`` → ("customer_id", "(customer_id)::text")."""
    text = _bare(condition)
    found = [(m.group(1), condition[m.start() : m.end()]) for m in _CAST.finditer(text)]
    for match in _CALL.finditer(text):
        if match.group(1).lower() in _NOT_COLUMNS:
            continue
        for argument in match.group(2).split(","):
            name = argument.strip().split(".")[-1].strip('"')
            if re.fullmatch(r"[A-Za-z_][\w$]*", name) and name.lower() not in _NOT_COLUMNS:
                found.append((name, condition[match.start() : match.end()]))
    return found


def left_sides(condition: str) -> list[str]:
    """What each top-level AND'ed condition compares, as PostgreSQL prints it:
    ``((country = ANY (…)) AND ((score % 10) = 3))`` → ["country", "(score % 10)"]."""
    text = _bare(condition).strip()
    if text.startswith("(") and _closing(text, 0) == len(text) - 1:
        text, condition = text[1:-1], condition.strip()[1:-1]
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and text.startswith(" AND ", index):
            parts.append((start, index))
            start = index + 5
    parts.append((start, len(text)))
    sides = []
    for first, last in parts:
        part = text[first:last].strip()
        inner = part[1:-1] if part.startswith("(") and _closing(part, 0) == len(part) - 1 else part
        match = re.match(r"(\(.*?\)|[\w.\"]+)\s*(?:=|<>|<=|>=|<|>|~~|IS\b)", inner)
        if match:
            side = match.group(1).split(".")[-1] if "(" not in match.group(1) else match.group(1)
            sides.append(side)
    return list(dict.fromkeys(sides))


def _closing(text: str, opening: int) -> int:
    depth = 0
    for index in range(opening, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return index
    return -1
