"""A content folder → tracks, lessons and every error: what `content check` and `content sync`
read, and the staff preview.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from lessons.content.blocks import LessonFile, check_keys, text_of
from lessons.content.lesson_file import parse_lesson, source_hash
from lessons.content.specs import (
    FIXTURES_FOLDER,
    LESSON_FILE,
    MODELS_FOLDER,
    SLUG,
    TRACK_FILE,
    TRACK_KEYS,
    CheckResult,
    ContentError,
    LessonSpec,
    TrackSpec,
)
from lessons.content.yaml_lines import LineDict, YamlProblem, load_yaml

# -- Tracks and trees ------------------------------------------------------------------------


def parse_track(
    text: str, path: str, display_path: str | None = None
) -> tuple[TrackSpec | None, list[ContentError]]:
    """Parse `<track>/track.yml`."""
    display = display_path or path
    lesson = LessonFile(path, display, {})
    data = load_yaml(text)
    if isinstance(data, YamlProblem):
        lesson.error(1 + data.line, data.message)
        return None, lesson.errors
    if not isinstance(data, LineDict):
        lesson.error(1, "track.yml must be a YAML mapping with title, summary and order")
        return None, lesson.errors
    check_keys(lesson, data, 1, "track.yml", TRACK_KEYS)
    order = data.get("order")
    if "order" in data and (not isinstance(order, int) or isinstance(order, bool)):
        lesson.error(1 + data.line_of("order"), "`order` must be a whole number")
    if lesson.errors:
        return None, lesson.errors
    slug = path.split("/")[0]
    return (
        TrackSpec(
            slug=slug,
            title=text_of(data["title"]),
            summary=text_of(data["summary"]),
            order=order,
            path=path,
            source_hash=source_hash(text),
            line_of_order=1 + data.line_of("order"),
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


def display_path(content_dir: Path, relative: str) -> str:
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
    result = CheckResult(tracks={}, lessons=[], errors=[], lesson_files=set(files))
    for track in sorted({relative.split("/")[0] for relative in files}):
        _check_track(content_dir, track, result)
    selected = set(only) if only is not None else set(files)
    lesson_errors: list[ContentError] = []
    parsed = _parsed_lessons(content_dir, files, selected, lesson_errors)
    parsed = _with_anchors_found(content_dir, parsed, lesson_errors, selected)
    kept = _without_duplicates(content_dir, parsed, lesson_errors, selected)
    result.errors += lesson_errors
    result.lessons = [spec for spec in kept if spec.path in selected]
    return result


def _fixture_names(content_dir: Path) -> set[str]:
    fixtures_dir = content_dir / FIXTURES_FOLDER
    return {p.name for p in fixtures_dir.glob("*.sql")} if fixtures_dir.is_dir() else set()


def _lesson_urls(files: Iterable[str]) -> dict[str, str]:
    urls = {}
    for relative in files:
        match = LESSON_FILE.match(relative.rpartition("/")[2])
        if match:
            urls[relative] = lesson_url(relative.split("/")[0], match["slug"])
    return urls


def _check_track(content_dir: Path, track: str, result: CheckResult) -> None:
    """Parse one track folder's track.yml into ``result`` (or mark the track invalid)."""
    track_path = f"{track}/{TRACK_FILE}"
    display = display_path(content_dir, track_path)
    if not SLUG.match(track):
        result.errors.append(ContentError(display, 1, f"track folder {track!r} is not a slug"))
        result.invalid_tracks.add(track)
        return
    if not (content_dir / track_path).is_file():
        result.errors.append(ContentError(display, 1, "missing track.yml (title, summary, order)"))
        result.invalid_tracks.add(track)
        return
    text = read_source(content_dir / track_path, display, result.errors)
    if text is None:
        result.invalid_tracks.add(track)
        return
    spec, errors = parse_track(text, track_path, display)
    same_order = [t for t in result.tracks.values() if spec and t.order == spec.order]
    if same_order:
        # The home page lists tracks by `order`: a tie would leave their order to chance.
        errors.append(
            ContentError(
                display,
                spec.line_of_order,
                f"`order: {spec.order}` is already {same_order[0].slug}'s; "
                "give each track an order of its own",
            )
        )
        spec = None
    result.errors += errors
    if spec:
        result.tracks[track] = spec
    else:
        result.invalid_tracks.add(track)


def _parsed_lessons(
    content_dir: Path, files: list[str], selected: set[str], lesson_errors: list[ContentError]
) -> list[LessonSpec]:
    """Every lesson file parsed, even with `only`, so duplicates across files are still found;
    errors are kept for the selected files only."""
    urls = _lesson_urls(files)
    fixtures = _fixture_names(content_dir)
    models = _model_modules(content_dir)
    parsed: list[LessonSpec] = []
    for relative in files:
        problems = lesson_errors if relative in selected else []
        text = read_source(content_dir / relative, display_path(content_dir, relative), problems)
        if text is None:
            continue
        spec, errors = parse_lesson(
            text,
            relative,
            display_path=display_path(content_dir, relative),
            lesson_urls=urls,
            fixtures=fixtures,
            lab_models=models,
        )
        lesson_errors += [error for error in errors if relative in selected]
        if spec:
            spec.source_hash = _with_seed_hashed(content_dir, spec)
            parsed.append(spec)
    return parsed


def _with_seed_hashed(content_dir: Path, spec: LessonSpec) -> str:
    """The lesson's source hash with its fixture's (and lab model module's) text in it: an
    edited fixture is a change of every lesson that names it, so `sync` checks and publishes
    them again (and learners' sandboxes of the old data are told, sandbox/models/records.py).
    Also keeps the texts on the spec (``fixture_sql``, ``lab_models_source``) for publishing."""
    inputs = [spec.source_hash]
    for folder, name in ((FIXTURES_FOLDER, spec.fixture), (MODELS_FOLDER, spec.lab_models)):
        path = content_dir / folder / (name if folder == FIXTURES_FOLDER else f"{name}.py")
        if name and path.is_file():
            data = path.read_bytes()
            inputs.append(hashlib.sha256(data).hexdigest())
            # Kept with the spec: what is checked and published is this text, not a later one.
            text = data.decode("utf-8", errors="replace")
            if folder == FIXTURES_FOLDER:
                spec.fixture_sql = text
            else:
                spec.lab_models_source = text
    if len(inputs) == 1:
        return spec.source_hash
    return hashlib.sha256("\0".join(inputs).encode()).hexdigest()


def read_source(path: Path, display: str, errors: list[ContentError]) -> str | None:
    """A content file's text, or None with an error naming the line of the first byte that is
    not UTF-8 (a file saved as Latin-1 or Windows-1252, say)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        errors.append(
            ContentError(
                display,
                line,
                f"the file is not UTF-8 (byte 0x{data[exc.start]:02x}): save it with UTF-8 "
                "encoding (your editor's 'Save with encoding' or 'Reopen with encoding')",
            )
        )
        return None


def _with_anchors_found(
    content_dir: Path, lessons: list[LessonSpec], errors: list[ContentError], selected: set[str]
) -> list[LessonSpec]:
    """Drop (and report, when selected) the lessons that link to a heading that is not there,
    in their own page or another lesson's. Links to a lesson that itself has errors are left
    alone: that lesson's errors are reported already."""
    anchors = {spec.path: spec.anchors for spec in lessons}
    kept = []
    for spec in lessons:
        broken = [
            (target, anchor, line)
            for target, anchor, line in spec.anchor_links
            if target in anchors and anchor not in anchors[target]
        ]
        for target, anchor, line in broken if spec.path in selected else []:
            where = "this lesson" if target == spec.path else target
            errors.append(
                ContentError(
                    display_path(content_dir, spec.path),
                    line,
                    f"broken link to #{anchor}: {where} has no heading with that anchor (a "
                    "heading's anchor is its text in lowercase, words joined by hyphens: "
                    "## Reading a plan → #reading-a-plan)",
                )
            )
        if not broken:
            kept.append(spec)
    return kept


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
        display = display_path(content_dir, spec.path)
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
    spec, errors = parse_lesson(
        text, path, lesson_urls=urls, fixtures=fixtures, lab_models=_model_modules(content_dir)
    )
    if spec:  # a draft is previewed on its fixture and model module as they are on disk now
        spec.source_hash = _with_seed_hashed(content_dir, spec)
    return spec, errors


def _model_modules(content_dir: Path) -> set[str]:
    """The lab model modules (content/models/<name>.py) a django_lab lesson may name."""
    folder = content_dir / MODELS_FOLDER
    return {p.stem for p in folder.glob("*.py")} if folder.is_dir() else set()
