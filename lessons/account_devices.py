"""Signed-in devices: which sessions a user has, from which browser, last seen when; and
"sign out everywhere else".

Sessions are Django's `cached_db` sessions, whose table has no user column, so each signed-in
session gets a SignedInDevice row (session key → user). It is written at log-in (a
user_logged_in receiver in lessons/signals.py) and then by the middleware at most once per
ACCOUNT_DEVICE_SEEN_MINUTES: the time of the last write sits in the session itself, so most
requests read nothing extra and write nothing. A session whose key changed (a password
change) is written at once.

A session made before this existed gets its row on its next request; until then "sign out
everywhere else" cannot see it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from lessons.models import SignedInDevice

# [session key, epoch seconds] of this session's last SignedInDevice write.
DEVICE_SEEN_KEY = "device_seen"

_BROWSERS = [  # first match wins: Edge and Opera also say "Chrome", Chrome also says "Safari"
    ("Edge", r"Edg(?:e|A|iOS)?/"),
    ("Opera", r"OPR/|Opera"),
    ("Firefox", r"Firefox/|FxiOS/"),
    ("Chromium", r"Chromium/"),
    ("Chrome", r"Chrome/|CriOS/"),
    ("Safari", r"Safari/"),
]
_SYSTEMS = [
    ("Android", r"Android"),
    ("iPhone", r"iPhone"),
    ("iPad", r"iPad"),
    ("ChromeOS", r"CrOS"),
    ("Windows", r"Windows"),
    ("macOS", r"Mac OS X|Macintosh"),
    ("Linux", r"Linux|X11"),
]


def summarise_user_agent(user_agent: str) -> str:
    """ "Firefox on Linux", "Chrome on Android", or "Unknown browser"; never the raw string,
    which is long and half of it is other browsers' names."""
    browser = next((name for name, pattern in _BROWSERS if re.search(pattern, user_agent)), "")
    system = next((name for name, pattern in _SYSTEMS if re.search(pattern, user_agent)), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or (f"A browser on {system}" if system else "Unknown browser")


def note_device(request: HttpRequest) -> None:
    """Record this signed-in session's device if its last record is older than
    ACCOUNT_DEVICE_SEEN_MINUTES or was made under another session key."""
    session = getattr(request, "session", None)
    if session is None or session.get(SESSION_KEY) is None:
        return
    key = session.session_key
    if key is None:
        return
    now = time.time()
    seen = session.get(DEVICE_SEEN_KEY) or ["", 0]
    if seen[0] == key and now - seen[1] < settings.ACCOUNT_DEVICE_SEEN_MINUTES * 60:
        return
    user_id = int(session[SESSION_KEY])
    browser = summarise_user_agent(request.headers.get("User-Agent", ""))
    moment = timezone.now()
    moved = 0
    if seen[0] and seen[0] != key:  # the session key was cycled: same device, new key
        moved = SignedInDevice.objects.filter(session_key=seen[0], user_id=user_id).update(
            session_key=key, last_seen_at=moment, browser=browser
        )
    if not moved:
        SignedInDevice.objects.update_or_create(
            session_key=key,
            defaults={"user_id": user_id, "browser": browser, "last_seen_at": moment},
            create_defaults={"user_id": user_id, "browser": browser, "signed_in_at": moment},
        )
    session[DEVICE_SEEN_KEY] = [key, now]


class SignedInDeviceMiddleware:
    """After the view (which may have logged in or out), note the session's device."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        note_device(request)
        return response


def end_sessions(session_keys: list[str]) -> None:
    """End these sessions (in the database and the cache) and forget their devices."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in session_keys:
        store(session_key=key).delete()
    SignedInDevice.objects.filter(session_key__in=session_keys).delete()


def sign_out_everywhere_else(user, current_session_key: str | None) -> int:
    """End every recorded session of `user` except the current one; how many were ended."""
    others = SignedInDevice.objects.filter(user=user).exclude(session_key=current_session_key)
    keys = list(others.values_list("session_key", flat=True))
    end_sessions(keys)
    return len(keys)
