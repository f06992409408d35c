"""YAML with line numbers: every mapping remembers the line of each key, so an error in a
block names the line an instructor must fix.
"""

from __future__ import annotations

from typing import Any

import yaml

# -- YAML with line numbers ------------------------------------------------------------------


class LineDict(dict):
    line = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    mapping = LineDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line
    mapping.key_lines = {
        str(key_node.value): key_node.start_mark.line for key_node, _ in node.value
    }
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _construct_timestamp(loader: _Loader, node: yaml.ScalarNode) -> Any:
    # PyYAML raises a bare ValueError (no line) for a date that looks right but is not one.
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"{node.value!r} is not a real date ({exc})", node.start_mark
        ) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


class YamlProblem(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def load_yaml(text: str) -> Any:
    """YAML → data whose mappings know their lines (0-based, relative to `text`)."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line if mark else 0
        problem = str(exc.problem or exc.context)
        return YamlProblem(line, f"invalid YAML: {problem}{_advice(problem)}")
    except yaml.YAMLError as exc:
        return YamlProblem(0, f"invalid YAML: {exc}")


QUOTING_ADVICE = (
    ": a text that starts with a backtick or contains `: ` (colon, space) must be in double "
    'quotes (- text: "`NULL` is not a value") or written on the lines after a `|`'
)


def _advice(problem: str) -> str:
    """What to do about the two mistakes instructors make most (content/README.md)."""
    if "mapping values are not allowed" in problem or "cannot start any token" in problem:
        return QUOTING_ADVICE
    return ""


def merged_list_items(text: str, data: Any) -> list[int]:
    """Lines (0-based) that look like list items but that YAML read as the end of the item
    above, because their `-` is indented differently: `  - A?` then `   - B?` is one item,
    "A? - B?". Each is reported, so a starter topic or a hint is not swallowed silently."""
    strings: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            strings.extend(item for item in value if isinstance(item, str))
            for item in value:
                if not isinstance(item, str):
                    collect(item)

    collect(data)
    lines = text.splitlines()
    found = []
    for value in strings:
        for part in value.split(" - ")[1:]:
            start = part[:30]
            for number, line in enumerate(lines):
                if line.lstrip().startswith(f"- {start}") and number not in found:
                    found.append(number)
                    break
    return sorted(found)
