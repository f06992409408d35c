"""Whole-page cache for anonymous visitors, in each server process.

Lesson pages are the same for every visitor who is not signed in, except for the CSRF token.
A cached page is stored with a placeholder instead of the token, and each response gets a fresh
token (and the CSRF cookie) for its visitor; the same for the CSP nonce of a page that uses one.
The placeholder is random, made anew for each render and stored with the page, so no text on
the page (a discussion post, say) can contain it.
Entries are dropped when `content sync` records a new ContentRevision or a discussion changes
(lessons.models.discussion_stamp); the stamps are read at most once per
LESSON_PAGE_CACHE_SECONDS per process, so an edit shows up within that time. Query strings,
pending messages and non-GET requests always get a fresh render; signed-in learners get theirs
from a shell that follows the same revision (lessons/page_shells.py).
"""

from __future__ import annotations

import functools
import secrets
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token

from lessons.models import ContentRevision, discussion_stamp

MAX_ENTRIES = 2000

_lock = threading.Lock()
_pages: dict[str, tuple[bytes, bytes]] = {}  # path: (page, the placeholder in it)
_stamp = {"revision": -1, "checked": 0.0, "cleared": 0}


def clear() -> None:
    with _lock:
        _pages.clear()
        _stamp.update(revision=-1, checked=0.0, cleared=_stamp["cleared"] + 1)


def revision() -> tuple:
    """What the cached pages were made from: the content revision and discussion stamp (read
    at most once per LESSON_PAGE_CACHE_SECONDS) and the number of clear() calls. Signed-in
    page shells (lessons/page_shells.py) are current while this is unchanged."""
    _fresh()
    return (_stamp["revision"], _stamp["cleared"])


def _cacheable(request: HttpRequest) -> bool:
    return (
        settings.LESSON_PAGE_CACHE_SECONDS > 0
        and request.method == "GET"
        and not request.GET
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and "messages" not in request.COOKIES
    )


def _fresh() -> None:
    """Drop every entry if content changed since the last look (at most one query a while)."""
    now = time.monotonic()
    if now - _stamp["checked"] < settings.LESSON_PAGE_CACHE_SECONDS:
        return
    revision = (ContentRevision.objects.current(), discussion_stamp())
    with _lock:
        if revision != _stamp["revision"]:
            _pages.clear()
        _stamp.update(revision=revision, checked=now)


def _respond(request: HttpRequest, body: bytes, placeholder: bytes) -> HttpResponse:
    return HttpResponse(_personal(request, body, placeholder))


def _personal(request: HttpRequest, body: bytes, placeholder: bytes) -> bytes:
    """The cached page with this visitor's CSRF token and, where the page uses one (a code
    editor's styles, templates/sandbox/_editor_assets.html), this response's CSP nonce."""
    nonce_placeholder = b"nonce" + placeholder
    if nonce_placeholder in body:  # first: it holds the token's placeholder
        body = body.replace(nonce_placeholder, str(request.csp_nonce).encode())
    return body.replace(placeholder, get_token(request).encode())


def cache_anonymous_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Serve `view` from the page cache to anonymous visitors.

    The view must render with `csrf_token` from `csrf_context(request)` in its context.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not _cacheable(request):
            return view(request, *args, **kwargs)
        _fresh()
        cached = _pages.get(request.path)
        if cached is not None:
            return _respond(request, *cached)
        # Letters and digits only, like a real token: the same in HTML, attributes and JSON.
        placeholder = f"csrfplaceholder{secrets.token_hex(16)}"
        request.page_cache_placeholder = placeholder
        response = view(request, *args, **kwargs)
        if response.status_code == 200 and not response.streaming:
            with _lock:
                if len(_pages) >= MAX_ENTRIES:
                    _pages.clear()
                _pages[request.path] = (response.content, placeholder.encode())
            response.content = _personal(request, response.content, placeholder.encode())
        return response

    return wrapper


def csrf_context(request: HttpRequest) -> dict[str, str]:
    """Context that puts the placeholder where the page would show this visitor's token."""
    placeholder = getattr(request, "page_cache_placeholder", None)
    return (
        {"csrf_token": placeholder, "csp_nonce_placeholder": f"nonce{placeholder}"}
        if placeholder
        else {}
    )
