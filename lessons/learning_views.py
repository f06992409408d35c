"""The learning loop: live quiz, self-check, flashcards, confidence and progress.

Every view here works for signed-out visitors too: their answers go to a Learner kept in the
session and move into their account when they sign up or log in (lessons/signals.py).
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from lessons.learners import learner_for
from lessons.learning_forms import ConfidenceForm, QuizAnswerForm, YesNoForm
from lessons.models import (
    Confidence,
    Flashcard,
    FlashcardReview,
    Learner,
    Lesson,
    LessonProgress,
    QuizAttempt,
    QuizChoice,
    QuizQuestion,
    SelfCheckItem,
    SelfCheckMark,
    lesson_progress_state,
    progress_overview,
)

PARTIALS = "lessons/_learning.html"


def _get_lesson(track: str, slug: str) -> Lesson:
    return get_object_or_404(Lesson.objects.published_at(track, slug))


def _get_question(lesson: Lesson, key: str) -> QuizQuestion:
    choices = Prefetch("choices", QuizChoice.objects.filter(is_active=True), "active_choices")
    questions = QuizQuestion.objects.active().filter(lesson=lesson).prefetch_related(choices)
    question = get_object_or_404(questions, key=key)
    question.number = questions.filter(position__lt=question.position).count() + 1
    return question


def _learner(request: HttpRequest) -> Learner:
    return learner_for(request, create=True)


def _changed(response: HttpResponse) -> HttpResponse:
    trigger_client_event(response, "progressChanged")
    return response


def _bad(form) -> HttpResponse:
    message = " ".join(str(e) for errors in form.errors.values() for e in errors)
    return HttpResponseBadRequest(message or "Bad request", content_type="text/plain")


@require_http_methods(["GET", "POST"])
def quiz_question(request: HttpRequest, track: str, slug: str, key: str) -> HttpResponse:
    """GET: the question, unanswered (for "Try again"). POST: check and store an answer."""
    lesson = _get_lesson(track, slug)
    question = _get_question(lesson, key)
    context = {"lesson": lesson, "question": question}
    if request.method == "POST":
        form = QuizAnswerForm(request.POST, question=question)
        if not form.is_valid():
            return _bad(form)
        chosen = form.cleaned_data["choice"]
        learner = _learner(request)
        attempt = QuizAttempt.objects.record(learner, question, chosen)
        context.update(attempt=attempt, outcomes=attempt.outcomes(question.active_choices))
        context["quiz_done"] = attempt.is_correct and (
            QuizAttempt.objects.has_answered_every_question(learner, lesson)
        )
        return _changed(render(request, f"{PARTIALS}#quiz_question", context))
    return render(request, f"{PARTIALS}#quiz_question", context)


@require_http_methods(["GET", "POST"])
def self_check(request: HttpRequest, track: str, slug: str, key: str) -> HttpResponse:
    """GET: reveal the model answer. POST: store "got it" (answer=1) or "not yet" (0)."""
    lesson = _get_lesson(track, slug)
    item = get_object_or_404(SelfCheckItem.objects.active(), lesson=lesson, key=key)
    context = {"lesson": lesson, "item": item, "mark": None}
    learner = learner_for(request, create=request.method == "POST")
    if request.method == "POST":
        form = YesNoForm(request.POST)
        if not form.is_valid():
            return _bad(form)
        context["mark"] = SelfCheckMark.mark(learner, item, form.cleaned_data["answer"])
        return _changed(render(request, f"{PARTIALS}#self_check", context))
    if learner is not None:
        context["mark"] = SelfCheckMark.objects.filter(learner=learner, item=item).first()
    return render(request, f"{PARTIALS}#self_check", context)


@require_POST
def flashcard(request: HttpRequest, track: str, slug: str, key: str) -> HttpResponse:
    """Store "knew it" (answer=1) or "review again" (0) and say when the card comes back."""
    lesson = _get_lesson(track, slug)
    card = get_object_or_404(Flashcard.objects.active(), lesson=lesson, key=key)
    form = YesNoForm(request.POST)
    if not form.is_valid():
        return _bad(form)
    review = FlashcardReview.answer(_learner(request), card, form.cleaned_data["answer"])
    context = {"lesson": lesson, "card": card, "review": review}
    return _changed(render(request, f"{PARTIALS}#flashcard_result", context))


@require_POST
def confidence(request: HttpRequest, track: str, slug: str) -> HttpResponse:
    lesson = _get_lesson(track, slug)
    form = ConfidenceForm(request.POST)
    if not form.is_valid():
        return _bad(form)
    progress = LessonProgress.objects.start(_learner(request), lesson)
    progress.set_confidence(form.cleaned_data["level"])
    context = {"lesson": lesson, "progress": progress, "just_saved": True}
    context["confidence_levels"] = Confidence.choices
    return _changed(render(request, f"{PARTIALS}#confidence", context))


@require_POST
def done(request: HttpRequest, track: str, slug: str) -> HttpResponse:
    """Mark the lesson done (answer=1) or not done after all (0)."""
    lesson = _get_lesson(track, slug)
    form = YesNoForm(request.POST)
    if not form.is_valid():
        return _bad(form)
    progress = LessonProgress.objects.start(_learner(request), lesson)
    if form.cleaned_data["answer"]:
        progress.mark_complete()
    else:
        progress.mark_incomplete()
    context = {"lesson": lesson, "progress": progress, "oob": True}  # also tick the step menus
    return _changed(render(request, f"{PARTIALS}#done", context))


@require_POST
def opened(request: HttpRequest, track: str, slug: str) -> HttpResponse:
    """The lesson page's beacon for a new visitor: record the visit (and so the visitor)."""
    lesson = _get_lesson(track, slug)
    LessonProgress.objects.start(_learner(request), lesson)
    return HttpResponse(status=204)


@require_GET
def lesson_progress(request: HttpRequest, track: str, slug: str) -> HttpResponse:
    """The lesson header's progress line, refreshed by htmx on "progressChanged", with the
    done card and the step menus' tick out of band."""
    lesson = _get_lesson(track, slug)
    learner = learner_for(request, create=False)
    state = lesson_progress_state(learner, lesson, Lesson.objects.outline(lesson.track))
    return render(request, f"{PARTIALS}#progress_refresh", {"lesson": lesson, "loop": state})


@require_GET
def progress_page(request: HttpRequest) -> HttpResponse:
    learner = learner_for(request, create=False)
    context = {"overview": progress_overview(learner)}
    return render(request, "lessons/progress.html", context)


@require_GET
def progress_export(request: HttpRequest) -> HttpResponse:
    """Everything the learner did, as JSON: their data is theirs."""
    learner = learner_for(request, create=False)
    data = learner.export() if learner else Learner.empty_export()
    stamp = timezone.now().strftime("%Y%m%d")
    response = JsonResponse(data, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="querylab-progress-{stamp}.json"'
    return response


@require_GET
def review_page(request: HttpRequest) -> HttpResponse:
    """Flashcards marked "review again", across all lessons, due ones first."""
    learner = learner_for(request, create=False)
    reviews = []
    if learner is not None:
        reviews = list(
            FlashcardReview.objects.filter(learner=learner, card__lesson__is_published=True)
            .in_review()
            .select_related("card__lesson__track")
        )
    due = [review for review in reviews if review.is_due]
    later = [review for review in reviews if not review.is_due]
    return render(request, "lessons/review.html", {"due": due, "later": later})
