"""Staff pages: where learners struggle, per lesson and per track, and their CSV exports.

Counts only (lessons/analytics.py); no learner is named. Signed-out visitors are sent to log
in; signed-in learners who are not staff get 403."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from lessons import analytics
from lessons.models import Lesson, Track

CSV_COLUMNS = ["lesson", "part", "item", "measure", "value", "answer", "feedback"]


def staff_only(view: Callable) -> Callable:
    """Log in first (a redirect), then staff only (403): these pages show learners' answers."""

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied("Only staff can see where learners struggle.")
        return view(request, *args, **kwargs)

    return never_cache(require_safe(guarded))


def _track(slug: str) -> Track:
    return get_object_or_404(Track.objects.published(), slug=slug)


def _lesson(track: str, slug: str) -> Lesson:
    return get_object_or_404(Lesson.objects.published_at(track, slug))


@staff_only
def index(request: HttpRequest) -> HttpResponse:
    tracks = Track.objects.published().with_lesson_counts()
    return render(request, "lessons/analytics_index.html", {"tracks": tracks})


@staff_only
def track_report(request: HttpRequest, track: str) -> HttpResponse:
    track_obj = _track(track)
    reports = analytics.lesson_reports(Lesson.objects.outline(track_obj), answers=False)
    context = {"track": track_obj, "reports": reports, "sections": analytics.sections()}
    return render(request, "lessons/analytics_track.html", context)


@staff_only
def lesson_report(request: HttpRequest, track: str, slug: str) -> HttpResponse:
    lesson = _lesson(track, slug)
    (report,) = analytics.lesson_reports([lesson])
    return render(request, "lessons/analytics_lesson.html", {"lesson": lesson, "report": report})


@staff_only
def track_csv(request: HttpRequest, track: str) -> HttpResponse:
    track_obj = _track(track)
    reports = analytics.lesson_reports(Lesson.objects.outline(track_obj))
    return _csv_response(f"{track_obj.slug}-analytics.csv", reports)


@staff_only
def lesson_csv(request: HttpRequest, track: str, slug: str) -> HttpResponse:
    lesson = _lesson(track, slug)
    filename = f"{lesson.track.slug}-{lesson.slug}-analytics.csv"
    return _csv_response(filename, analytics.lesson_reports([lesson]))


def _csv_response(filename: str, reports: Iterable[analytics.LessonReport]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for report in reports:
        for row in report.measures():
            writer.writerow(
                [
                    report.lesson.ref,
                    row.part,
                    _cell(row.item),
                    row.measure,
                    "" if row.value is None else row.value,
                    _cell(row.answer),
                    _cell(row.feedback),
                ]
            )
    return response


def _cell(text: str) -> str:
    """Text a spreadsheet would not run: a learner's answer starting with = + - @ (or a tab
    or carriage return) would be read as a formula, so it gets a leading apostrophe (OWASP's
    advice for CSV injection)."""
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text
