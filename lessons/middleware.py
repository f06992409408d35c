"""`serve --dev` only: re-sync content/ on the next page load after a file changed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse

from lessons import page_cache
from lessons.sync import sync_content

log = logging.getLogger(__name__)


def content_snapshot(content_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime, size) of every file under content_dir: cheap enough to take per request."""
    entries = []
    for path in content_dir.rglob("*"):
        if path.suffix in (".md", ".yml", ".sql", ".py") and path.is_file():
            stat = path.stat()
            entries.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(entries))


class ContentAutoSyncMiddleware:
    """Active when settings.CONTENT_AUTOSYNC is on (`manage.py serve --dev` turns it on)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        if not settings.CONTENT_AUTOSYNC:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.lock = threading.Lock()
        self.snapshot = content_snapshot(settings.CONTENT_DIR)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            self.sync_if_changed()
        return self.get_response(request)

    def sync_if_changed(self) -> None:
        with self.lock:
            snapshot = content_snapshot(settings.CONTENT_DIR)
            if snapshot == self.snapshot:
                return
            report = sync_content(settings.CONTENT_DIR)
            page_cache.clear()
            self.snapshot = snapshot
            for error in report.errors:
                log.warning("%s", error)
            for note in report.notes:
                log.info("%s", note)
            if report.published or report.unpublished:
                log.info(
                    "content: published %s, unpublished %s", report.published, report.unpublished
                )
