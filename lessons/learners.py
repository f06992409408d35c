"""Who is learning, for a request: the signed-in user's Learner, else the signed-out
visitor's, whose id the session holds. The one place that reads a request for it, so the
models never see a request."""

from __future__ import annotations

from django.http import HttpRequest

from lessons.models import LEARNER_SESSION_KEY, Learner


def learner_for(request: HttpRequest, *, create: bool) -> Learner | None:
    """The Learner behind this request. With `create`, a visitor gets one (and the session
    remembers it); without, a visitor who has done nothing yet gets None."""
    user = request.user
    learner_id = visitor_id(request)
    owner = {"user": user} if user.is_authenticated else {"user__isnull": True}
    learner = Learner.objects.filter(pk=learner_id, **owner).first() if learner_id else None
    if learner is None and user.is_authenticated:
        learner = Learner.objects.for_user(user)
    elif learner is None and create:
        learner = Learner.objects.create()
    if learner is not None and learner.pk != learner_id:
        request.session[LEARNER_SESSION_KEY] = learner.pk
    return learner


def visitor_id(request: HttpRequest) -> int | None:
    """The Learner id the session holds, if any: a signed-out visitor's, or after log-in the
    account's. Unchecked: callers match it against the user in their own query (as the
    sandbox's admission statement does), or use ``learner_for``."""
    return request.session.get(LEARNER_SESSION_KEY)
