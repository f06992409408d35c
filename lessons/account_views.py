"""Accounts: signing up (log-in, log-out and password reset are Django's own views), and the
account page: profile, e-mail, password, signed-in devices, export and deletion."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.core import signing
from django.core.cache import cache
from django.core.mail import send_mail
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from lessons.account_deletion import delete_account
from lessons.account_devices import sign_out_everywhere_else
from lessons.account_export import export_account
from lessons.account_forms import DeleteAccountForm, EmailChangeForm, ProfileForm, SignupForm
from lessons.models import AccountProfile, SignedInDevice


def _safe_next(request: HttpRequest, default: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else default


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_safe_next(request))
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(_safe_next(request))
    return render(
        request, "registration/signup.html", {"form": form, "next": _safe_next(request, "")}
    )


# -- The account page: /account/ --------------------------------------------------------------
#
# Every change is a POST with CSRF, signed-in only, and counted against
# ACCOUNT_ACTIONS_PER_HOUR per user and action (in the shared database cache, so the limit
# holds across processes). The e-mail change and deletion ask for the password again: a
# stolen session alone must not be able to take the account over or destroy it.

EMAIL_CHANGE_SALT = "querylab.account.email-change"


def _over_limit(user, action: str) -> bool:
    key = f"account-limit:{action}:{user.pk}"
    cache.add(key, 0, 60 * 60)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, 60 * 60)
        count = 1
    return count > settings.ACCOUNT_ACTIONS_PER_HOUR


def _limited(request: HttpRequest) -> HttpResponse:
    messages.error(
        request,
        f"Too many account changes: at most {settings.ACCOUNT_ACTIONS_PER_HOUR} of each kind "
        "an hour. Please try again later.",
    )
    response = _render_account(request, status=429)
    response["Retry-After"] = "3600"
    return response


def _render_account(request: HttpRequest, status: int = 200, **bound) -> HttpResponse:
    """The account page, with any bound (invalid) form in place of its empty one."""
    user = request.user
    forms = {
        "profile_form": ProfileForm(instance=AccountProfile.of(user)),
        "email_form": EmailChangeForm(user),
        "password_form": PasswordChangeForm(user),
        **bound,
    }
    # Django's form focuses its first field; on a page of several forms that scrolls away.
    forms["password_form"].fields["old_password"].widget.attrs.pop("autofocus", None)
    SignedInDevice.objects.forget_ended(user)
    devices = list(SignedInDevice.objects.of_user(user))
    for device in devices:
        device.is_current = device.session_key == request.session.session_key
    context = {
        **forms,
        "devices": devices,
        "email_notifications": settings.DISCUSSION_EMAIL_NOTIFICATIONS,
        "email_change_hours": settings.ACCOUNT_EMAIL_CHANGE_MAX_AGE_HOURS,
    }
    return render(request, "account/account.html", context, status=status)


@login_required
def account_page(request: HttpRequest) -> HttpResponse:
    return _render_account(request)


@login_required
@require_POST
def profile_save(request: HttpRequest) -> HttpResponse:
    if _over_limit(request.user, "profile"):
        return _limited(request)
    form = ProfileForm(request.POST, instance=AccountProfile.of(request.user))
    if not form.is_valid():
        return _render_account(request, status=400, profile_form=form)
    form.save()
    messages.success(request, "Your profile is saved.")
    return redirect("account:page")


@login_required
@require_POST
def email_change(request: HttpRequest) -> HttpResponse:
    """Send a signed link to the new address; nothing changes until it is opened."""
    if _over_limit(request.user, "email"):
        return _limited(request)
    form = EmailChangeForm(request.user, request.POST)
    if not form.is_valid():
        return _render_account(request, status=400, email_form=form)
    new_email = form.cleaned_data["email"]
    token = signing.dumps(
        {"user": request.user.pk, "email": new_email, "old": _fingerprint(request.user.email)},
        salt=EMAIL_CHANGE_SALT,
    )
    link = request.build_absolute_uri(reverse("account:email_confirm", args=[token]))
    send_mail(
        "Confirm your new e-mail address on Querylab",
        render_to_string(
            "account/email_confirm_message.txt",
            {
                "user": request.user,
                "link": link,
                "hours": settings.ACCOUNT_EMAIL_CHANGE_MAX_AGE_HOURS,
            },
        ),
        None,
        [new_email],
    )
    messages.success(
        request,
        f"We sent a link to {new_email}. Your address changes when you open it "
        f"(within {settings.ACCOUNT_EMAIL_CHANGE_MAX_AGE_HOURS} hours).",
    )
    return redirect("account:page")


def _fingerprint(email: str) -> str:
    """Stands for the current address in the link, which is readable, without showing it."""
    return salted_hmac(EMAIL_CHANGE_SALT, email or "", algorithm="sha256").hexdigest()[:20]


def _email_change_from(token: str, user) -> dict | None:
    """The change a link asks for, if the link is genuine, fresh, this user's and unused."""
    try:
        change = signing.loads(
            token,
            salt=EMAIL_CHANGE_SALT,
            max_age=timedelta(hours=settings.ACCOUNT_EMAIL_CHANGE_MAX_AGE_HOURS),
        )
    except signing.BadSignature:  # also SignatureExpired
        return None
    # Used once: after the change (or any other), the old address no longer matches.
    if change.get("user") != user.pk or change.get("old") != _fingerprint(user.email):
        return None
    return change


@login_required
def email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the change and a button (mail scanners open links); POST makes it and tells
    the old address."""
    change = _email_change_from(token, request.user)
    if change is None:
        return render(request, "account/email_confirm.html", {"invalid": True}, status=400)
    if request.method != "POST":
        return render(request, "account/email_confirm.html", {"email": change["email"]})
    user = request.user
    old_email, user.email = user.email, change["email"]
    user.save(update_fields=["email"])
    if old_email:
        send_mail(
            "Your Querylab e-mail address was changed",
            render_to_string(
                "account/email_changed_message.txt", {"user": user, "new_email": user.email}
            ),
            None,
            [old_email],
        )
    messages.success(request, f"Your e-mail address is now {user.email}.")
    return redirect("account:page")


@login_required
@require_POST
def password_change(request: HttpRequest) -> HttpResponse:
    if _over_limit(request.user, "password"):
        return _limited(request)
    form = PasswordChangeForm(request.user, request.POST)
    if not form.is_valid():
        return _render_account(request, status=400, password_form=form)
    form.save()
    # Keeps this session signed in; every other session ends at its next request, since
    # Django checks each session against the password it was signed in with.
    update_session_auth_hash(request, form.user)
    sign_out_everywhere_else(request.user, request.session.session_key)
    messages.success(request, "Your password is changed. Other devices are signed out.")
    return redirect("account:page")


@login_required
@require_POST
def sign_out_others(request: HttpRequest) -> HttpResponse:
    if _over_limit(request.user, "sessions"):
        return _limited(request)
    ended = sign_out_everywhere_else(request.user, request.session.session_key)
    messages.success(request, f"Signed out of {ended} other session{'s' if ended != 1 else ''}.")
    return redirect("account:page")


@login_required
@require_POST
def export(request: HttpRequest) -> HttpResponse:
    """Everything the site holds about the user, as one JSON download."""
    if _over_limit(request.user, "export"):
        return _limited(request)
    data = export_account(request.user)
    response = JsonResponse(data, json_dumps_params={"indent": 2, "ensure_ascii": False})
    stamp = timezone.now().strftime("%Y-%m-%d")
    filename = f"querylab-{request.user.pk}-{stamp}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def delete(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.user, request.POST or None)
    if request.method == "POST":
        if _over_limit(request.user, "delete"):
            messages.error(request, "Too many attempts. Please try again in an hour.")
            return render(request, "account/delete.html", {"form": form}, status=429)
        if form.is_valid():
            delete_account(request.user, erase_posts=form.cleaned_data["erase_posts"])
            logout(request)
            messages.success(request, "Your account and your data are deleted. Goodbye!")
            return redirect("home")
    status = 400 if form.is_bound else 200
    return render(request, "account/delete.html", {"form": form}, status=status)
