"""Shared snapshots: make one (``POST /api/sandbox/share``), open one (``GET /s/<token>/``,
for anyone, no account), and, for its owner only, delete or keep it. The shared page runs
nothing and says nothing about who made it."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from lessons.learners import learner_for
from lessons.models import Lesson
from sandbox import plans, shares
from sandbox.models import PlanRecord, Share
from sandbox.views import BadRequest, _payload


def _live_share(token: str) -> Share:
    found = Share.objects.live().select_related("lesson__track").filter(token=token).first()
    if found is None:
        raise Http404("No such snapshot: it was deleted, or it expired.")
    return found


def _answer(
    request: HttpRequest, payload: dict, status: int = 200, context: dict | None = None
) -> HttpResponse:
    if request.htmx:
        context = {**payload, **(context or {})}
        response = render(request, "sandbox/share.html#made", context, status=status)
    else:
        response = JsonResponse(payload, status=status)
    if "retry_after" in payload:
        response["Retry-After"] = str(payload["retry_after"])
    return response


def _snapshot(request: HttpRequest, data: dict) -> tuple[str, str, dict]:
    """(kind, sql, snapshot) from the request, checked."""
    kind = data.get("kind")
    if kind == Share.Kind.PLAN:
        try:
            record = PlanRecord.objects.get(
                pk=int(data.get("plan_id", "")), learner=learner_for(request, create=True)
            )
        except (TypeError, ValueError, PlanRecord.DoesNotExist):
            raise BadRequest('"plan_id" must be one of your recent plans.') from None
        return kind, record.sql, shares.plan_snapshot(record)
    if kind == Share.Kind.RESULT:
        sql = data.get("sql")
        if not isinstance(sql, str) or len(sql) > settings.SANDBOX_MAX_SQL_LENGTH:
            raise BadRequest('"sql" must be the text that was run.')
        return kind, sql, shares.result_snapshot(data.get("results"))
    raise BadRequest('"kind" must be "result" or "plan".')


@never_cache
@require_POST
def share(request: HttpRequest) -> HttpResponse:
    """Store a snapshot of a result or a plan: ``{"lesson", "kind": "result", "sql",
    "results"}`` or ``{"lesson", "kind": "plan", "plan_id"}`` → ``{"ok", "url", "expires_at"}``."""
    try:
        data = _payload(request)
        try:
            lesson = Lesson.objects.by_ref(str(data.get("lesson", "")))
        except Lesson.DoesNotExist:
            raise BadRequest('"lesson" must be a published lesson, "<track>/<slug>".') from None
        kind, sql, snapshot = _snapshot(request, data)
    except (BadRequest, shares.ShareRefused) as exc:
        return _answer(request, {"ok": False, "error": str(exc)}, 400)
    learner = learner_for(request, create=True)
    wait = Share.objects.wait_before_next(learner)
    if wait is not None:
        message = (
            f"Sharing limit: at most {settings.SANDBOX_SHARES_PER_HOUR} snapshots an hour; "
            "try again later."
        )
        return _answer(request, {"ok": False, "error": message, "retry_after": wait}, 429)
    made = Share.objects.create(
        owner=learner,
        lesson=lesson,
        kind=kind,
        sql=sql,
        snapshot=snapshot,
        expires_at=Share.default_expiry(),
    )
    url = request.build_absolute_uri(reverse("sandbox:shared", args=[made.token]))
    payload = {"ok": True, "url": url, "expires_at": made.expires_at.isoformat()}
    return _answer(request, payload, context={"share": made})


@never_cache
@require_GET
def shared(request: HttpRequest, token: str) -> HttpResponse:
    """A snapshot, for anyone who has its link."""
    found = _live_share(token)
    learner = learner_for(request, create=False)
    context = {
        "share": found,
        "is_owner": found.owned_by(learner),
        "can_keep": found.owned_by(learner) and request.user.is_authenticated,
        "lesson": found.lesson,
    }
    if found.kind == Share.Kind.PLAN:
        context["view"] = plans.parse(found.snapshot["plan"])
        context["text"] = found.snapshot["text"]
        context["advice"] = found.snapshot["advice"]
    else:
        context["results"] = [
            {**result, "headers": list(zip(result["columns"], result["types"], strict=True))}
            for result in found.snapshot["results"]
        ]
    response = render(request, "sandbox/share.html", context)
    response["X-Robots-Tag"] = "noindex"
    return response


def _owned_share(request: HttpRequest, token: str) -> Share | HttpResponse:
    found = _live_share(token)
    if not found.owned_by(learner_for(request, create=False)):
        return HttpResponse("Only the person who shared this can change it.", status=403)
    return found


@require_POST
def delete_share(request: HttpRequest, token: str) -> HttpResponse:
    found = _owned_share(request, token)
    if isinstance(found, HttpResponse):
        return found
    lesson = found.lesson
    found.delete()
    messages.success(request, "The shared snapshot was deleted; its link no longer works.")
    return redirect(lesson.get_absolute_url() if lesson else "home")


@require_POST
def keep_share(request: HttpRequest, token: str) -> HttpResponse:
    found = _owned_share(request, token)
    if isinstance(found, HttpResponse):
        return found
    if not request.user.is_authenticated:
        return HttpResponse("Sign in to keep a snapshot.", status=403)
    found.keep()
    messages.success(request, "Kept: this snapshot no longer expires.")
    return redirect("sandbox:shared", token=found.token)
