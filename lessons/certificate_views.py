"""Certificates of completion (lessons/models/certificates.py): take one for a finished track,
show it to anyone who has its URL, revoke it."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from lessons.models import Certificate, NotFinished, Track
from lessons.templatetags.discussion_tags import author_name


@require_POST
def take(request: HttpRequest, track: str) -> HttpResponse:
    """Issue the signed-in learner's certificate for a finished track (or find their valid
    one) and show it. A visitor is sent to sign up first; their progress comes along."""
    track_obj = get_object_or_404(Track.objects.published(), slug=track)
    if not request.user.is_authenticated:
        next_url = reverse("lessons:track", args=[track_obj.slug])
        return redirect(f"{reverse('signup')}?{urlencode({'next': next_url})}")
    try:
        certificate = Certificate.objects.issue(request.user, track_obj, author_name(request.user))
    except NotFinished as exc:
        context = {"track": track_obj, "refused": str(exc)}
        return render(request, "lessons/certificate.html", context, status=400)
    return redirect("lessons:certificate", token=certificate.token)


@require_safe
def show(request: HttpRequest, token: str) -> HttpResponse:
    """The certificate, for anyone with its URL; a revoked one says so (410)."""
    certificate = Certificate.objects.filter(token=token).select_related("track").first()
    if certificate is None:
        raise Http404("No such certificate")
    mine = request.user.is_authenticated and certificate.user_id == request.user.pk
    status = 410 if certificate.is_revoked else 200
    context = {"certificate": certificate, "mine": mine}
    response = render(request, "lessons/certificate.html", context, status=status)
    response["X-Robots-Tag"] = "noindex"
    return response


@require_POST
def revoke(request: HttpRequest, token: str) -> HttpResponse:
    """Only the learner it names may revoke a certificate; its URL then says it was revoked."""
    if not request.user.is_authenticated:
        raise Http404("No such certificate")
    certificate = get_object_or_404(Certificate, token=token, user=request.user)
    certificate.revoke()
    return redirect("lessons:certificate", token=certificate.token)
