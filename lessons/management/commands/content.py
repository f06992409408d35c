"""`manage.py content check [PATH…]` and `manage.py content sync`."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from lessons.content import TRACK_FILE, CheckResult, ContentError, check_tree, display_path
from lessons.content.checks import run_registered_checks
from lessons.sync import sync_content


def registered_checks(content_dir: Path, result: CheckResult) -> list[ContentError]:
    """The checks other apps registered (lessons/content/checks.py), such as the sandbox's:
    fixtures seed, solutions pass their own checks, examples run. Valid lessons only."""
    display = {lesson.path: display_path(content_dir, lesson.path) for lesson in result.lessons}
    return run_registered_checks(result.lessons, content_dir, display)


def _targets(paths: list[str]) -> list[tuple[Path, list[str] | None]]:
    """(content folder, lesson files to check or None for all) for each PATH argument."""
    if not paths:
        return [(settings.CONTENT_DIR, None)]
    targets: list[tuple[Path, list[str] | None]] = []
    for raw in paths:
        path = Path(raw).resolve()
        if not path.exists():
            raise CommandError(f"{raw}: no such file or folder")
        if path.is_file():
            root = path.parent.parent
            targets.append((root, [path.relative_to(root).as_posix()]))
        elif (path / TRACK_FILE).is_file() or any(path.glob("[0-9]*.md")):
            root = path.parent
            files = [p.relative_to(root).as_posix() for p in sorted(path.glob("*.md"))]
            targets.append((root, files))
        else:
            targets.append((path, None))
    return targets


class Command(BaseCommand):
    help = "Check lesson files (content check [PATH…]) or publish content/ (content sync)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser("check", help="Validate lessons; exit status 1 on any error.")
        check.add_argument("paths", nargs="*", help="files or folders (default: CONTENT_DIR)")
        sub.add_parser("sync", help="Publish the lessons that changed under CONTENT_DIR.")

    def handle(self, *args, action: str, **options):
        if action == "check":
            self.check_lessons(options["paths"])
        else:
            self.sync_lessons()

    def check_lessons(self, paths: list[str]) -> None:
        found: list[ContentError] = []
        lessons = tracks = 0
        for root, only in _targets(paths):
            result = check_tree(root, only)
            found += result.errors + registered_checks(root, result)
            lessons += len(result.lessons)
            tracks += len(result.tracks)
        self.write_notes([problem for problem in found if not problem.is_error])
        errors = [problem for problem in found if problem.is_error]
        for error in errors:
            self.stderr.write(str(error))
        if errors:
            raise CommandError(f"{len(errors)} error(s) in lesson files", returncode=1)
        self.stdout.write(self.style.SUCCESS(f"OK: {lessons} lesson(s) in {tracks} track(s)"))

    def write_notes(self, notes: list[ContentError]) -> None:
        """Measurements (a fixture's seeding time and size) on stdout, warnings on stderr."""
        for note in notes:
            if note.level == "warning":
                self.stderr.write(self.style.WARNING(str(note)))
            else:
                self.stdout.write(str(note))

    def sync_lessons(self) -> None:
        report = sync_content(settings.CONTENT_DIR)
        self.write_notes(report.notes)
        for error in report.errors:
            self.stderr.write(str(error))
        for path in report.published:
            self.stdout.write(f"published {path}")
        for ref in report.unpublished:
            self.stdout.write(f"unpublished {ref} (its file is gone)")
        summary = (
            f"{len(report.published)} published, {report.unchanged} unchanged, "
            f"{len(report.unpublished)} unpublished"
        )
        if report.errors:
            # Serving must go on with the last good versions, so this is not a failure exit.
            self.stdout.write(
                self.style.WARNING(f"{summary}; {len(report.errors)} error(s): files not published")
            )
        else:
            self.stdout.write(self.style.SUCCESS(summary))
