"""The discussion under every lesson: read by anyone, written by signed-in users, moderated by
staff.

Every form works as a plain POST followed by a redirect, and in place with htmx: an htmx
request gets the changed region back (`"lessons/_discussion.html#<partial>"`), a form with
errors comes back with status 422 and a post over the rate limit with 429 (static/js/
discussion.js lets htmx swap those into the form).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Window
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import reswap, retarget

from lessons.discussion_forms import EditForm, FlagForm, ReplyForm, ThreadForm
from lessons.models import Flag, Lesson, ModerationAction, Notification, Post, Thread

T = TypeVar("T")
DISCUSSION = "lessons/_discussion.html"


def _lesson_or_404(track: str, slug: str) -> Lesson:
    return get_object_or_404(Lesson.objects.published_at(track, slug))


def _thread_or_404(thread_id: int) -> Thread:
    return get_object_or_404(
        Thread.objects.select_related("lesson__track"),
        pk=thread_id,
        lesson__is_published=True,
        lesson__track__is_published=True,
    )


def _post_or_404(post_id: int) -> Post:
    return get_object_or_404(
        Post.objects.select_related("author", "thread__lesson__track", "thread__author"),
        pk=post_id,
        thread__lesson__is_published=True,
        thread__lesson__track__is_published=True,
    )


def _require_staff(request: HttpRequest) -> None:
    if not request.user.is_staff:
        raise PermissionDenied("Only moderators can do that.")


# Far past any real discussion; larger numbers would overflow the OFFSET (a bigint).
MAX_PAGE_NUMBER = 100_000


def _page_number(request: HttpRequest) -> int:
    try:
        return min(max(1, int(request.GET.get("page", "1"))), MAX_PAGE_NUMBER)
    except ValueError:
        return 1


def discussion_context(request: HttpRequest, lesson: Lesson, page: int = 1, viewer=None) -> dict:
    """What `lessons/_discussion.html` needs, for the lesson page or the standalone page.
    The posts' buttons are those of `viewer` (default: the request's user)."""
    per_page = settings.DISCUSSION_THREADS_PER_PAGE
    start = (page - 1) * per_page
    # The count of all the lesson's threads comes with the page's rows (COUNT(*) OVER ()),
    # so a long discussion costs no more queries than a short one.
    listed = Thread.objects.filter(lesson=lesson).listed()
    listed = listed.annotate(total=Window(Count("pk")))
    threads = list(listed[start : start + per_page + 1])
    has_more = len(threads) > per_page
    threads = threads[:per_page]
    Thread.attach_posts(threads, viewer or request.user)
    return {
        "lesson": lesson,
        "threads": threads,
        "thread_count": threads[0].total if threads else 0,
        "page": page,
        "next_page": page + 1 if has_more else None,
        "thread_form": ThreadForm(auto_id="new-thread-%s"),
        "starter_topics": list(enumerate(lesson.discussion_topics or [])),
        # Signed-out visitors come back to the discussion after logging in.
        "discussion_next": f"{request.path}#discussion",
        "max_body_chars": settings.DISCUSSION_MAX_BODY_CHARS,
    }


def _thread_context(request: HttpRequest, thread_id: int) -> dict:
    thread = get_object_or_404(
        Thread.objects.listed(),
        pk=thread_id,
        lesson__is_published=True,
        lesson__track__is_published=True,
    )
    Thread.attach_posts([thread], request.user)
    return {"thread": thread, "lesson": thread.lesson}


def _thread_response(request: HttpRequest, thread_id: int, anchor: str = "") -> HttpResponse:
    """After a change: the thread, re-rendered in place (htmx) or a redirect to it."""
    if request.htmx:
        response = render(request, f"{DISCUSSION}#thread", _thread_context(request, thread_id))
        return reswap(retarget(response, f"#thread-{thread_id}"), "outerHTML")
    return redirect(reverse("lessons:thread", args=[thread_id]) + anchor)


def _post_form_context(request: HttpRequest, post: Post, form) -> dict:
    """The context of a form about one post (reply, edit, flag)."""
    thread = post.thread
    return {
        "post": post,
        "thread": thread,
        "thread_title": thread.title_for(request.user),
        "lesson": thread.lesson,
        "form": form,
    }


def _form_response(
    request: HttpRequest, template: str, context: dict, status: int = 200
) -> HttpResponse:
    """A form: in place when htmx asked for it, else on a page of its own."""
    partial = "#form" if request.htmx else ""
    return render(request, f"{template}{partial}", context, status=status)


def _write_post(request: HttpRequest, template: str, context: dict, write: Callable[[dict], T]):
    """What starting a thread and replying share: the form on GET; on POST, in one transaction,
    the posting limits, then the form's checks, then ``write(cleaned_data)``. Returns (what was
    written, None), or (None, the response that shows the form: new, too fast or invalid)."""
    if request.method != "POST":
        return None, _form_response(request, template, context)
    with transaction.atomic():
        limit = Post.objects.posting_limit_for(request.user)
        if limit:
            return None, _too_fast(request, limit, template, context)
        if not context["form"].is_valid():
            return None, _form_response(request, template, context, status=422)
        return write(context["form"].cleaned_data), None


def _too_fast(request: HttpRequest, limit, template: str, context: dict) -> HttpResponse:
    context["form"].add_error(None, limit.message)
    response = _form_response(request, template, context, status=429)
    response["Retry-After"] = str(limit.retry_after)
    return response


# -- Reading ------------------------------------------------------------------------------


def discussion(request: HttpRequest, track: str, slug: str) -> HttpResponse:
    """The standalone discussion page; with htmx, one more page of threads ("Load more")."""
    lesson = _lesson_or_404(track, slug)
    context = discussion_context(request, lesson, _page_number(request))
    if request.htmx and context["page"] > 1:
        return render(request, f"{DISCUSSION}#thread-page", context)
    return render(request, "lessons/discussion.html", context)


def thread(request: HttpRequest, thread_id: int) -> HttpResponse:
    context = _thread_context(request, thread_id)
    if request.htmx:
        return render(request, f"{DISCUSSION}#thread", context)
    return render(request, "lessons/thread.html", context)


# -- Writing ------------------------------------------------------------------------------


@login_required
def thread_create(request: HttpRequest, track: str, slug: str) -> HttpResponse:
    """Start a thread; `?topic=N` pre-fills the title with the lesson's Nth starter topic."""
    lesson = _lesson_or_404(track, slug)
    topics = lesson.discussion_topics or []
    topic_index = request.POST.get("topic", request.GET.get("topic", ""))
    known = topic_index.isdigit() and int(topic_index) < len(topics)
    topic = topics[int(topic_index)] if known else ""
    form = ThreadForm(
        request.POST or None,
        author=request.user,
        initial={"title": topic},
        auto_id="new-thread-%s",
    )
    context = {"lesson": lesson, "form": form, "topic": topic, "topic_index": topic_index}
    new_thread, answer = _write_post(
        request,
        "lessons/discussion_thread_form.html",
        context,
        lambda data: Thread.objects.start(
            lesson=lesson,
            author=request.user,
            title=data["title"],
            body=data["body"],
            starter_topic=topic,
        ),
    )
    if answer:
        return answer
    if request.htmx:
        response = render(request, f"{DISCUSSION}#discussion", discussion_context(request, lesson))
        return reswap(retarget(response, "#discussion"), "outerHTML")
    return redirect("lessons:thread", new_thread.pk)


@login_required
def post_reply(request: HttpRequest, post_id: int) -> HttpResponse:
    parent = _post_or_404(post_id)
    if not parent.thread.can_reply(request.user):
        raise PermissionDenied("This thread is locked.")
    if not parent.can_reply(request.user):
        raise PermissionDenied(
            "This post was removed or hidden by a moderator; it takes no replies."
        )
    form = ReplyForm(request.POST or None, author=request.user, auto_id=f"reply-{post_id}-%s")
    reply, answer = _write_post(
        request,
        "lessons/discussion_reply_form.html",
        _post_form_context(request, parent, form),
        lambda data: parent.thread.add_reply(author=request.user, parent=parent, body=data["body"]),
    )
    if answer:
        return answer
    return _thread_response(request, parent.thread_id, f"#post-{reply.pk}")


@login_required
def post_edit(request: HttpRequest, post_id: int) -> HttpResponse:
    post = _post_or_404(post_id)
    if not post.can_edit(request.user):
        raise PermissionDenied("You can only edit your own posts.")
    initial = {"body": post.body, "title": post.thread.title}
    form = EditForm(request.POST or None, post=post, initial=initial, auto_id=f"edit-{post_id}-%s")
    context = _post_form_context(request, post, form)
    template = "lessons/discussion_edit_form.html"
    if request.method != "POST":
        return _form_response(request, template, context)
    if not form.is_valid():
        return _form_response(request, template, context, status=422)
    post.edit(body=form.cleaned_data["body"], title=form.cleaned_data.get("title"), by=request.user)
    return _thread_response(request, post.thread_id, f"#post-{post.pk}")


@require_POST
@login_required
def post_delete(request: HttpRequest, post_id: int) -> HttpResponse:
    post = _post_or_404(post_id)
    if not post.can_delete(request.user):
        raise PermissionDenied("You can only delete your own posts.")
    post.soft_delete(by=request.user)
    return _thread_response(request, post.thread_id, f"#post-{post.pk}")


@require_POST
@login_required
def post_vote(request: HttpRequest, post_id: int) -> HttpResponse:
    post = _post_or_404(post_id)
    if not post.can_vote(request.user):
        raise PermissionDenied("You cannot upvote this post.")
    post.toggle_vote(request.user)
    return _thread_response(request, post.thread_id, f"#post-{post.pk}")


@require_POST
@login_required
def post_answer(request: HttpRequest, post_id: int) -> HttpResponse:
    post = _post_or_404(post_id)
    if not post.thread.can_mark_answer(request.user):
        raise PermissionDenied("Only the thread's author or a moderator can mark the answer.")
    if not post.thread.can_mark_as_answer(request.user, post):
        raise PermissionDenied("Only someone else's visible reply can be the answer.")
    post.thread.toggle_answer(post, by=request.user)
    return _thread_response(request, post.thread_id, f"#post-{post.pk}")


@login_required
def post_flag(request: HttpRequest, post_id: int) -> HttpResponse:
    post = _post_or_404(post_id)
    if not post.can_flag(request.user):
        raise PermissionDenied("You cannot flag this post.")
    form = FlagForm(request.POST or None, auto_id=f"flag-{post_id}-%s")
    context = _post_form_context(request, post, form)
    template = "lessons/discussion_flag_form.html"
    if request.method != "POST":
        return _form_response(request, template, context)
    if not form.is_valid():
        return _form_response(request, template, context, status=422)
    post.flag(reporter=request.user, **form.cleaned_data)
    if request.htmx:
        return render(request, f"{template}#flagged", context)
    return render(request, template, {**context, "flagged": True})


# -- Moderation ---------------------------------------------------------------------------


@login_required
def moderation_queue(request: HttpRequest) -> HttpResponse:
    _require_staff(request)
    flagged = list(Post.objects.flagged()[:100])
    flags_by_post: dict[int, list] = {post.pk: [] for post in flagged}
    open_flags = Flag.objects.filter(post__in=flags_by_post, resolved_at__isnull=True)
    for flag in open_flags.select_related("reporter"):
        flags_by_post[flag.post_id].append(flag)
    for post in flagged:
        post.open_flags = flags_by_post[post.pk]
    recent = ModerationAction.objects.select_related("actor", "thread")[:30]
    return render(request, "lessons/moderation_queue.html", {"flagged": flagged, "recent": recent})


@require_POST
@login_required
def post_moderate(request: HttpRequest, post_id: int) -> HttpResponse:
    _require_staff(request)
    post = _post_or_404(post_id)
    action = request.POST.get("action", "")
    actions = ModerationAction.Action
    if action not in {actions.HIDE, actions.RESTORE, actions.DISMISS_FLAGS}:
        return HttpResponse("Unknown moderation action.", status=400)
    post.moderate(action, by=request.user, note=request.POST.get("note", "")[:500])
    if request.POST.get("from") == "queue":
        return redirect("lessons:moderation_queue")
    return _thread_response(request, post.thread_id, f"#post-{post.pk}")


@require_POST
@login_required
def thread_moderate(request: HttpRequest, thread_id: int) -> HttpResponse:
    _require_staff(request)
    target = _thread_or_404(thread_id)
    action = request.POST.get("action", "")
    actions = ModerationAction.Action
    if action not in {actions.LOCK, actions.UNLOCK, actions.PIN, actions.UNPIN}:
        return HttpResponse("Unknown moderation action.", status=400)
    target.moderate(action, by=request.user, note=request.POST.get("note", "")[:500])
    if request.POST.get("from") == "queue":
        return redirect("lessons:moderation_queue")
    if request.htmx and action in {actions.PIN, actions.UNPIN}:
        # Pinning moves threads around: redraw the whole discussion.
        context = discussion_context(request, target.lesson)
        response = render(request, f"{DISCUSSION}#discussion", context)
        return reswap(retarget(response, "#discussion"), "outerHTML")
    return _thread_response(request, target.pk)


# -- Notifications ------------------------------------------------------------------------


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    hidden_opening = Post.objects.filter(
        thread=OuterRef("post__thread"), parent__isnull=True, hidden_at__isnull=False
    )
    items = (
        Notification.objects.filter(recipient=request.user)
        .select_related(
            "post__author__account_profile",
            "post__thread__author__account_profile",
            "post__thread__lesson__track",
        )
        .annotate(thread_hidden=Exists(hidden_opening))
        .order_by("-created_at")[:100]
    )
    return render(request, "lessons/notifications.html", {"notifications": items})


@require_POST
@login_required
def notifications_read(request: HttpRequest) -> HttpResponse:
    """Mark one notification read and open it (`id`), or mark them all read."""
    mine = Notification.objects.filter(recipient=request.user)
    notification_id = request.POST.get("id", "")
    if notification_id.isdigit():
        item = get_object_or_404(mine.select_related("post"), pk=int(notification_id))
        mine.filter(pk=item.pk).mark_read()
        return redirect(
            reverse("lessons:thread", args=[item.post.thread_id]) + f"#post-{item.post_id}"
        )
    mine.mark_read()
    return redirect("lessons:notifications")
