"""Publishing content/ into PostgreSQL: `manage.py content sync` and the dev auto-sync.

A changed lesson (its text, its fixture's or its lab model module's: see ``check_tree``) is
published only if it passes what ``content check`` runs for it, the checks other apps register
included (the sandbox seeds its fixture and runs its examples and solutions); unchanged files are
neither checked again nor written. A file with errors is not published and its last good version
stays live; the other files publish. Lessons whose file is gone are unpublished, never deleted, so
learner data attached to them is kept. The writes happen in one transaction, after the checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from lessons.content import (
    LESSON_FILE,
    CheckResult,
    ContentError,
    LessonSpec,
    check_tree,
    display_path,
)
from lessons.content.checks import run_registered_checks
from lessons.models import ContentRevision, Lesson, Track


@dataclass
class SyncReport:
    published: list[str] = field(default_factory=list)
    unchanged: int = 0
    unpublished: list[str] = field(default_factory=list)
    errors: list[ContentError] = field(default_factory=list)
    # Warnings and measurements of the checks (a fixture's seeding time and size): not errors.
    notes: list[ContentError] = field(default_factory=list)


def sync_content(content_dir: Path, run_checks: bool = True) -> SyncReport:
    """Validate content_dir and publish every valid lesson that changed and passes its checks.

    ``run_checks=False`` leaves out the registered (sandbox) checks: only for tests that need
    content published whose checks are tested elsewhere (the real content/ is checked by
    ``content check`` in CI), never for publishing to learners."""
    content_dir = Path(content_dir)
    result = check_tree(content_dir)
    notes = _checked(content_dir, result) if run_checks else []
    with transaction.atomic():
        report = _publish(result)
    report.notes = notes
    return report


def _checked(content_dir: Path, result: CheckResult) -> list[ContentError]:
    """Run the registered checks on the lessons that changed; drop those that fail from
    ``result.lessons`` and add their errors to ``result.errors``. Returns the notes."""
    existing = {
        (lesson.track.slug, lesson.slug): lesson
        for lesson in Lesson.objects.select_related("track").only(
            "slug", "source_hash", "is_published", "source_path", "track__slug"
        )
    }
    changed = [
        spec
        for spec in result.lessons
        if (spec.track, spec.slug) not in existing
        or _changed_from(existing[(spec.track, spec.slug)], spec)
    ]
    if not changed:
        return []
    display = {spec.path: display_path(content_dir, spec.path) for spec in changed}
    found = run_registered_checks(changed, content_dir, display)
    errors = [problem for problem in found if problem.is_error]
    failed = {problem.path for problem in errors}
    result.lessons = [spec for spec in result.lessons if display.get(spec.path) not in failed]
    result.errors += errors
    return [problem for problem in found if not problem.is_error]


def _changed_from(lesson: Lesson, spec: LessonSpec) -> bool:
    """Whether publishing ``spec`` over ``lesson`` changes it (sync checks and writes only
    these)."""
    return not (
        lesson.source_hash == spec.source_hash
        and lesson.is_published
        and lesson.source_path == spec.path
    )


def _publish(result: CheckResult) -> SyncReport:
    report = SyncReport(errors=list(result.errors))
    tracks = {track.slug: track for track in Track.objects.select_for_update()}
    tracks_changed = False
    for slug, spec in result.tracks.items():
        track = tracks.get(slug) or Track(slug=slug)
        if track.pk is None or track.source_hash != spec.source_hash or not track.is_published:
            track.title, track.summary, track.order = spec.title, spec.summary, spec.order
            track.source_hash, track.is_published = spec.source_hash, True
            track.save()
            tracks_changed = True
        tracks[slug] = track

    present = {(path.split("/")[0], _slug_of(path)) for path in result.lesson_files}
    existing = {
        (lesson.track.slug, lesson.slug): lesson
        for lesson in Lesson.objects.select_related("track").select_for_update(of=("self",))
    }
    for spec in result.lessons:
        track = tracks.get(spec.track)
        if track is None or track.pk is None:
            continue  # its track.yml is invalid and was never published: reported already
        lesson = existing.get((spec.track, spec.slug))
        if lesson and not _changed_from(lesson, spec):
            report.unchanged += 1
            continue
        lesson = lesson or Lesson(track=track, slug=spec.slug)
        lesson.publish(spec)
        report.published.append(spec.path)

    for key, lesson in existing.items():
        if key not in present and lesson.is_published:
            lesson.is_published = False
            lesson.save(update_fields=["is_published"])
            report.unpublished.append(lesson.ref)
    folders = {key[0] for key in present} | set(result.tracks)
    gone = Track.objects.exclude(slug__in=folders).filter(is_published=True)
    tracks_changed = gone.update(is_published=False) > 0 or tracks_changed
    if report.published or report.unpublished or tracks_changed:
        # Cached pages (lessons/page_cache.py) compare this stamp and re-render.
        ContentRevision.objects.create(published=report.published, unpublished=report.unpublished)
    return report


def _slug_of(path: str) -> str:
    match = LESSON_FILE.match(path.rpartition("/")[2])
    return match["slug"] if match else ""
