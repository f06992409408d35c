"""Publishing content/ into PostgreSQL: `manage.py content sync` and the dev auto-sync.

Everything happens in one transaction. Unchanged files (same source hash) are skipped; a file with
errors is not published and its last good version stays live; lessons whose file is gone are
unpublished, never deleted, so learner data attached to them is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from lessons.content import LESSON_FILE, CheckResult, ContentError, check_tree
from lessons.models import ContentRevision, Lesson, Track


@dataclass
class SyncReport:
    published: list[str] = field(default_factory=list)
    unchanged: int = 0
    unpublished: list[str] = field(default_factory=list)
    errors: list[ContentError] = field(default_factory=list)


def sync_content(content_dir: Path) -> SyncReport:
    """Validate content_dir and publish every valid lesson that changed."""
    result = check_tree(content_dir)
    with transaction.atomic():
        return _publish(result)


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
        unchanged = lesson and lesson.source_hash == spec.source_hash
        if unchanged and lesson.is_published and lesson.source_path == spec.path:
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
