"""Lesson files → validated, rendered lessons. Pure functions: no database in here.

The format is documented for instructors in content/README.md. In short: YAML front matter, a
CommonMark body, and fenced code blocks whose info word is a block type (`quiz`, `selfcheck`,
`interview`, `flashcards`, `pitfall`, `example`, `exercise`) with a YAML body.

One module per step, each importing only those above it:

- `specs`: the format's constants and the specs the pipeline produces (`LessonSpec`, …);
- `yaml_lines`: YAML whose mappings know each key's line;
- `markdown`: Markdown → HTML with anchors and highlighting;
- `blocks`: each structured block validated and rendered;
- `lesson_file`: one lesson file (front matter, body, blocks) → `LessonSpec`;
- `tree`: a content folder → tracks, lessons and every error (`check_tree`), the preview.

`check_tree()` returns tracks, lessons and `ContentError`s (each with path and line). Rendering
happens here, once; `lessons/sync.py` stores the result.
"""

from __future__ import annotations

from lessons.content.lesson_file import parse_lesson, source_hash
from lessons.content.markdown import code_block_html
from lessons.content.specs import (
    LESSON_FILE,
    RENDER_VERSION,
    TRACK_FILE,
    CheckResult,
    ContentError,
    ExerciseSpec,
    LessonSpec,
    TrackSpec,
)
from lessons.content.tree import check_tree, display_path, lesson_url, preview_lesson

__all__ = [
    "LESSON_FILE",
    "RENDER_VERSION",
    "TRACK_FILE",
    "CheckResult",
    "ContentError",
    "ExerciseSpec",
    "LessonSpec",
    "TrackSpec",
    "check_tree",
    "code_block_html",
    "display_path",
    "lesson_url",
    "parse_lesson",
    "preview_lesson",
    "source_hash",
]
