"""The learning loop: live quiz, self-check, flashcards, confidence and progress.

Every view here works for signed-out visitors too: their answers go to a Learner kept in the
session and move into their account when they sign up or log in (lessons/signals.py).
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event
from fsrs import Rating

from lessons.learners import learner_for
from lessons.learning_forms import ConfidenceForm, QuizAnswerForm, ReviewGradeForm, YesNoForm
from lessons.models import (
    CONFIDENCE_RATING,
    Certificate,
    Confidence,
    Flashcard,
    FlashcardReview,
    Learner,
    Lesson,
    LessonProgress,
    QuizAttempt,
    QuizChoice,
    QuizQuestion,
    ReviewItem,
    SelfCheckItem,
    SelfCheckMark,
    lesson_progress_state,
    progress_overview,
    weekly_summary,
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
        if not attempt.is_correct:  # a missed question comes back for review
            ReviewItem.objects.enter(learner, ReviewItem.Kind.QUIZ, question, Rating.Again)
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
    learner = _learner(request)
    progress = LessonProgress.objects.start(learner, lesson)
    progress.set_confidence(form.cleaned_data["level"])
    rating = CONFIDENCE_RATING[Confidence(progress.confidence)]  # the lesson's first rating
    ReviewItem.objects.enter(learner, ReviewItem.Kind.LESSON, lesson, rating)
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
    context = {"overview": progress_overview(learner), "weekly": weekly_summary(learner)}
    if request.user.is_authenticated:
        mine = Certificate.objects.valid().filter(user=request.user).select_related("track")
        context["certificates"] = list(mine.order_by("-issued_at"))
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
    """What is due today (flashcards, missed quiz questions, failed exercises, lessons by
    confidence), to grade again / hard / good / easy, and when the next one is due."""
    learner = learner_for(request, create=False)
    due, upcoming = [], None
    if learner is not None:
        items = ReviewItem.objects.filter(learner=learner).visible()
        due = list(
            items.due_today()
            .select_related("lesson__track", "card", "question", "exercise")
            .order_by("due", "pk")
        )
        upcoming = items.later().order_by("due").first()
    context = {"due": due, "upcoming": upcoming, "ratings": REVIEW_RATINGS}
    return render(request, "lessons/review.html", context)


REVIEW_RATINGS = [(1, "Again"), (2, "Hard"), (3, "Good"), (4, "Easy")]


@require_POST
def review_grade(request: HttpRequest, item_id: int) -> HttpResponse:
    """Grade one of the learner's review items (rating=1..4) and say when it comes back."""
    learner = learner_for(request, create=False)
    item = get_object_or_404(ReviewItem.objects.visible(), pk=item_id, learner=learner)
    form = ReviewGradeForm(request.POST)
    if not form.is_valid():
        return _bad(form)
    item.grade(form.cleaned_data["rating"])
    if item.kind == ReviewItem.Kind.FLASHCARD:
        FlashcardReview.objects.filter(learner=learner, card=item.card_id).update(
            knew_it=form.cleaned_data["rating"] > 1, due_on=item.due_on, updated_at=timezone.now()
        )
    upcoming = ReviewItem.objects.filter(learner=learner).visible().later().order_by("due")
    context = {"item": item, "upcoming": upcoming.first(), "left": _due_count(learner)}
    if not request.htmx:
        return redirect("lessons:review")
    return render(request, "lessons/review.html#graded", context)


def _due_count(learner: Learner) -> int:
    return ReviewItem.objects.filter(learner=learner).visible().due_today().count()
