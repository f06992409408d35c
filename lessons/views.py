from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_http_methods, require_safe
from django_htmx.middleware import HtmxDetails

from lessons import page_shells
from lessons.content import preview_lesson
from lessons.content.checks import run_registered_checks_on_draft
from lessons.discussion_views import discussion_context
from lessons.forms import PREVIEW_DRAFTS, PREVIEW_DRAFTS_KEPT, PreviewForm
from lessons.learners import learner_for, visitor_id
from lessons.models import (
    SIGNED_IN_READER,
    Certificate,
    Lesson,
    LessonPageState,
    ReviewItem,
    Track,
    TrackPosition,
    lesson_progress_state,
    open_lesson_page,
    snippet_html,
)
from lessons.page_cache import cache_anonymous_page, csrf_context


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _get_track(slug: str) -> Track:
    return get_object_or_404(Track.objects.published(), slug=slug)


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    tracks = Track.objects.published().with_lesson_counts()
    learner = learner_for(request, create=False)
    resume = learner.continue_lesson() if learner else None
    due = ReviewItem.objects.filter(learner=learner).visible().due_today() if learner else None
    context = {"tracks": tracks, "resume": resume, "reviews_due": due.count() if due else 0}
    return render(request, "lessons/home.html", context)


@require_safe
def track_detail(request: HttpRequest, track: str) -> HttpResponse:
    track_obj = _get_track(track)
    steps = Lesson.objects.outline(track_obj)
    minutes = sum(step.reading_minutes for step in steps)
    learner = learner_for(request, create=False)
    loop = lesson_progress_state(learner, None, steps)
    context = {"track": track_obj, "steps": steps, "minutes": minutes, "loop": loop}
    if request.user.is_authenticated:
        # Asked whether or not the track is finished, so the page costs the same queries for
        # every learner (lessons/tests/test_learner_page_queries.py).
        mine = Certificate.objects.valid().filter(user=request.user, track=track_obj).first()
        finished = bool(steps) and loop.completed_in_track == len(steps)
        context["certificate"] = mine if finished else None
    return render(request, "lessons/track.html", context)


@require_safe
@cache_anonymous_page
def lesson_detail(request: HttpRequest, track: str, lesson: str) -> HttpResponse:
    audience = page_shells.serves(request)
    if audience:
        shell = page_shells.get(request.path, audience)
        if shell is None:
            shell = _lesson_shell(request, track, lesson, audience)
            page_shells.store(request.path, shell)
        response = page_shells.respond(request, shell)
        if response is not None:
            return response
    lesson_obj = _get_lesson(track, lesson)
    steps = Lesson.objects.outline(lesson_obj.track)
    # Opening a lesson starts it. A visitor without a session gets the same cacheable page
    # as every new visitor; its beacon (learning.js) records the visit.
    loop = open_lesson_page(request.user, visitor_id(request), lesson_obj, steps)
    context = _lesson_context(
        request, lesson_obj, steps, loop, request.user, **csrf_context(request)
    )
    return render(request, "lessons/lesson.html", context)


def _get_lesson(track: str, slug: str) -> Lesson:
    return get_object_or_404(
        Lesson.objects.published_at(track, slug).defer("body_text", "search_vector")
    )


def _lesson_context(
    request: HttpRequest, lesson: Lesson, steps: list[Lesson], loop, viewer, **extra
) -> dict:
    context = {
        **extra,
        "lesson": lesson,
        "position": TrackPosition.of(lesson, steps),
        "loop": loop,
        **discussion_context(request, lesson, viewer=viewer),
    }
    # Shown twice (the sidebar and the jump menu), rendered once: 36 steps and their links.
    context["step_menu"] = render_to_string("lessons/lesson.html#step-menu", context, request)
    return context


def _lesson_shell(request: HttpRequest, track: str, slug: str, audience: str) -> page_shells.Shell:
    """The lesson page as a signed-in reader (or, for VISITOR, a signed-out one) with nothing
    of their own sees it, with markers where a learner's state goes (lessons/page_shells.py).
    The request's user is of the same audience: the template's own user checks agree."""
    lesson = _get_lesson(track, slug)
    steps = Lesson.objects.outline(lesson.track)
    marker = page_shells.new_marker()
    blank = LessonPageState(total=len(steps))
    viewer = SIGNED_IN_READER if audience == page_shells.MEMBER else AnonymousUser()
    context = _lesson_context(
        request, lesson, steps, blank, viewer, shell=marker, csrf_token=f"{marker}:csrf:;"
    )
    html = render_to_string("lessons/lesson.html", context, request)
    thread_ids = [thread.pk for thread in context["threads"]]
    return page_shells.Shell(
        html, marker, lesson, steps, thread_ids, audience=audience, path=request.path
    )


@require_safe
def search(request: HtmxHttpRequest) -> HttpResponse:
    # PostgreSQL text cannot hold a NUL character; nobody means to search for one.
    query = request.GET.get("q", "").replace("\x00", "").strip()[:200]
    results = []
    if query:
        results = list(Lesson.objects.search(query).select_related("track")[:20])
        for result in results:
            result.snippet = snippet_html(result.headline)
    template = "lessons/search.html#results" if request.htmx else "lessons/search.html"
    return render(request, template, {"query": query, "results": results})


@login_required
@require_http_methods(["GET", "POST"])
def preview(request: HttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        raise PermissionDenied("Only staff can preview lessons.")
    form = PreviewForm(request.POST or request.GET or None)
    lesson, errors, draft = None, [], ""
    if form.is_bound and form.is_valid():
        spec, errors = preview_lesson(
            settings.CONTENT_DIR, form.cleaned_data["path"], form.cleaned_data["source"]
        )
        if spec:
            track = Track.objects.filter(slug=spec.track).first()
            lesson = Lesson(track=track or Track(slug=spec.track, title=spec.track))
            lesson.fill_from(spec)
            if spec.mode in ("sql_sandbox", "django_lab"):
                draft = _keep_draft(request, form.cleaned_data)
                if form.cleaned_data.get("run_checks"):
                    errors = run_registered_checks_on_draft(
                        settings.CONTENT_DIR, spec, form.cleaned_data["source"]
                    )
    notes = [problem for problem in errors if not problem.is_error]  # timings, warnings
    errors = [problem for problem in errors if problem.is_error]
    context = {"form": form, "lesson": lesson, "errors": errors, "notes": notes, "draft": draft}
    return render(request, "lessons/preview.html", context)


def _keep_draft(request: HttpRequest, data: dict) -> str:
    """Keep a previewed draft in the session, for its Check buttons; its digest names it. A
    named file is kept by name: a Check reads it from disk again."""
    source = None if data.get("from_file") else data["source"]
    digest = hashlib.sha256(f"{data['path']}\0{source}".encode()).hexdigest()[:32]
    drafts = request.session.get(PREVIEW_DRAFTS, {})
    drafts.pop(digest, None)
    drafts[digest] = {"path": data["path"], "source": source}
    request.session[PREVIEW_DRAFTS] = dict(list(drafts.items())[-PREVIEW_DRAFTS_KEPT:])
    return digest
