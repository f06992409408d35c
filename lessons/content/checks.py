"""Checks other apps add to `content check`: the sandbox seeds each lesson's fixture and runs
its examples and solutions (sandbox/lesson_checks.py). They register from their
AppConfig.ready(), so the content pipeline imports none of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lessons.content.specs import ContentError, LessonSpec

# (valid lessons, their content folder, lesson path → path shown in messages) → errors
ContentCheck = Callable[[list[LessonSpec], Path, dict[str, str]], list[ContentError]]

_checks: list[ContentCheck] = []


def register_check(check: ContentCheck) -> None:
    """Run `check` on every `content check` (once, however often it is registered)."""
    if check not in _checks:
        _checks.append(check)


def run_registered_checks(
    lessons: list[LessonSpec], content_dir: Path, display: dict[str, str]
) -> list[ContentError]:
    errors: list[ContentError] = []
    for check in _checks:
        errors += check(lessons, content_dir, display)
    return errors


def run_registered_checks_on_draft(
    content_dir: Path, spec: LessonSpec, text: str
) -> list[ContentError]:
    """The registered checks of one draft (the preview's), as `content check` would run them
    on the file: the draft is written to a scratch content folder beside links to the real
    fixtures and models, so the checks read it (for line numbers) and the fixtures on disk."""
    import tempfile

    content_dir = Path(content_dir)
    with tempfile.TemporaryDirectory(prefix="querylab-preview-") as scratch:
        root = Path(scratch)
        for folder in ("fixtures", "models"):
            if (content_dir / folder).is_dir():
                (root / folder).symlink_to((content_dir / folder).resolve())
        (root / spec.path).parent.mkdir(parents=True, exist_ok=True)
        (root / spec.path).write_text(text, encoding="utf-8")
        return run_registered_checks([spec], root, {spec.path: spec.path})
