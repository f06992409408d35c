"""Learners' lesson pages: one shell shared by every signed-in reader (and one by every visitor
whose session holds a Learner), their state put in.

A lesson page is nearly the same for every signed-in learner who is not staff: the lesson and
its structured parts (rendered once at publish into Lesson.body_html), the step menu, the
discussion. What is theirs is small: the header's account links, the step menu's ticks, the
progress line, the learning loop (quiz answers, self-check marks, cards, confidence, "done")
and the buttons of their own posts, their votes and their threads. So the page is rendered once
per process as a *shell* where those places are markers, `<M>:<name>:<arg>;` (M random for each
shell, so no text on the page can forge one), and each request fills the markers in one pass
with the same partials the full render uses, from one statement that records the visit and
reads the learner's progress, quiz/self-check/card state, notification count and the posts
whose buttons are theirs (lessons/models/signed_in.py), whatever they have done and however
long the discussion.
The response is the full render's HTML (lessons/tests/test_signed_in_page.py compares them),
so it works without JavaScript as the full render does.

A visitor whose session holds a Learner (they answered a question or marked a card) has state
on the page too, and would otherwise get a full render on every page after their first answer.
Their shell is rendered for a signed-out reader (the header's "Log in" links, the discussion
without buttons), and filled from the same statement with their Learner id; they have no posts.

Parts that learners in the same situation see alike — the learning loop's cards for a
confidence level, a post's buttons for its author or for a voter, a progress line — are rendered
on first use and kept with the shell, keyed by what they show, never by who asked.

A shell holds nothing of one learner, so nothing is invalidated per learner: shells are dropped
with the anonymous page cache's entries (a new content revision or a discussion change, seen
within LESSON_PAGE_CACHE_SECONDS) and re-rendered after SHELL_MAX_AGE seconds, so that times
such as "3 minutes ago" stay close to the truth. Staff, query strings and pending messages get
the full render.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import get_template
from django.utils.html import escape, json_script

from lessons import page_cache
from lessons.learners import visitor_id
from lessons.models import (
    Lesson,
    LessonPageState,
    LessonProgress,
    Post,
    open_signed_in_page,
)

SHELL_MAX_AGE = 60  # seconds
MEMBER, VISITOR = "member", "visitor"  # who a shell is rendered for
_ACTIONS = ("vote", "reply", "mark_answer", "edit", "delete", "flag")
MAX_ENTRIES = 2000

_lock = threading.Lock()
_shells: dict[str, Shell] = {}


@dataclass
class Shell:
    """A lesson page rendered for a signed-in reader with nothing of their own, with markers."""

    html: str
    marker: str
    lesson: Lesson  # with its track; shared read-only by the requests that use the shell
    steps: list[Lesson]  # the track's outline
    thread_ids: list[int]  # the discussion's threads shown on the page
    audience: str = MEMBER  # or VISITOR: rendered for a signed-out reader
    path: str = ""  # the page's, for a visitor's "Log in" link back to it
    revision: tuple = ()
    made_at: float = field(default_factory=time.monotonic)
    # The page cut at its markers, once: literal text, and (name, number, text inside) for each
    # marker, so that a request joins pieces instead of searching 100+ KB for markers.
    pieces: list[str | tuple[str, int, str]] = field(init=False)
    # The step menu's marks, the same for everyone: another step done, this one done or not.
    marks: dict[str, str] = field(init=False)
    loops: dict[tuple[int | None, bool], str] = field(init=False)
    accounts: dict[int | str, str] = field(init=False)
    # Parts rendered on first use for a set of inputs that holds nothing of one learner:
    # posts' buttons and progress lines (see actions() and progress()).
    memo: dict[tuple, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        m = re.escape(self.marker)
        # A post's buttons sit between two markers (replaced as a whole); the rest are single.
        pattern = re.compile(rf"{m}:(?:actions:(\d+);(.*?){m}:end:\1;|([a-z]+):(\d*);)", re.DOTALL)
        self.pieces, last = [], 0
        for match in pattern.finditer(self.html):
            post_id, neutral, name, number = match.groups()
            self.pieces.append(self.html[last : match.start()])
            if post_id is not None:
                self.pieces.append(("actions", int(post_id), neutral))
            else:
                self.pieces.append((name, int(number or 0), ""))
            last = match.end()
        self.pieces.append(self.html[last:])
        self.marks = {
            "tick": _render("lessons/lesson.html#step-tick", {}),
            "current": _render("lessons/_learning.html#step_mark", {"done": False}),
            "current-done": _render("lessons/_learning.html#step_mark", {"done": True}),
        }
        self.loops = {}
        if self.audience == VISITOR:
            context = {"user": AnonymousUser(), "request": _Page(self.path)}
            self.accounts = {0: _render("base.html#account", context)}
            return
        # The header's account links, the learner's name and unread count left as markers.
        reader = _Reader(self.username_marker)
        self.accounts = {
            unread: _render(
                "base.html#account",
                {"user": reader, "discussion_unread": unread, "csrf_token": self.csrf_marker},
            )
            for unread in (0, self.unread_marker)
        }

    def actions(self, post: Post) -> str:
        """A post's buttons for a learner with `post`'s flags (open_signed_in_page), the CSRF
        token as a marker. Rendered once for each set of flags: learners who see a post the
        same way (its author, a voter, the asker of its thread) share it."""
        key = (
            post.pk,
            post.is_deleted,
            post.is_hidden,
            post.is_answer,
            post.vote_count,
            post.voted,
            *(getattr(post, f"user_can_{what}") for what in _ACTIONS),
        )
        if key not in self.memo:
            context = {"post": post, "thread": post.thread, "csrf_token": self.csrf_marker}
            self.memo[key] = _render("lessons/_discussion.html#post-actions", context)
        return self.memo[key]

    def progress(self, loop: LessonPageState) -> str:
        """The header's progress line for a learner's numbers, rendered once for each."""
        done = loop.progress is not None and loop.progress.is_completed
        key = ("progress", loop.step, loop.total, loop.completed_in_track, done)
        if key not in self.memo:
            context = {"lesson": self.lesson, "loop": loop}
            self.memo[key] = _render("lessons/_learning.html#progress_line_inside", context)
        return self.memo[key]

    @property
    def csrf_marker(self) -> str:
        return f"{self.marker}:csrf:;"

    @property
    def username_marker(self) -> str:
        return f"{self.marker}:username:;"

    @property
    def unread_marker(self) -> str:
        return f"{self.marker}:unread:;"

    @property
    def state_marker(self) -> str:
        return f"{self.marker}:state:;"

    def loop(self, confidence: int | None, done: bool) -> str:
        """The learning loop's cards for a confidence level and "done", rendered once each
        (on first use), the learner's quiz, self-check and card state (JSON for learning.js)
        left as a marker. Two requests rendering the same one at once both store it: fine."""
        if (confidence, done) not in self.loops:
            status = LessonProgress.Status.COMPLETED if done else LessonProgress.Status.STARTED
            loop = LessonPageState(progress=LessonProgress(status=status, confidence=confidence))
            context = {"lesson": self.lesson, "loop": loop, "state_marker": self.state_marker}
            self.loops[confidence, done] = _render("lessons/_learning.html#lesson_loop", context)
        return self.loops[confidence, done]


class _Reader:
    """Who the shell's account links are rendered for: signed in, not staff, name a marker."""

    is_authenticated = True
    is_staff = False

    def __init__(self, name: str) -> None:
        self.name = name

    def get_username(self) -> str:
        return self.name


class _Page:
    """What the signed-out header reads of the request: the page to come back to."""

    def __init__(self, path: str) -> None:
        self.path = path

    def get_full_path(self) -> str:
        return self.path


def new_marker() -> str:
    return f"shell{secrets.token_hex(12)}"


def serves(request: HttpRequest) -> str:
    """Which shell this request gets its page from, if any: a plain GET by a signed-in
    learner (MEMBER, not staff) or by a visitor whose session holds a Learner (VISITOR)."""
    if (
        settings.LESSON_PAGE_CACHE_SECONDS <= 0
        or request.method != "GET"
        or request.GET
        or "messages" in request.COOKIES
    ):
        return ""
    if request.user.is_authenticated:
        return "" if request.user.is_staff else MEMBER
    return VISITOR if visitor_id(request) is not None else ""


def get(path: str, audience: str = MEMBER) -> Shell | None:
    """The shell of the page at `path` for `audience`, if one is stored and still current."""
    shell = _shells.get(f"{audience}:{path}")
    if shell is None:
        return None
    current = page_cache.revision()
    if shell.revision != current or time.monotonic() - shell.made_at > SHELL_MAX_AGE:
        return None
    return shell


def store(path: str, shell: Shell) -> Shell:
    shell.revision = page_cache.revision()
    with _lock:
        if len(_shells) >= MAX_ENTRIES:
            _shells.clear()
        _shells[f"{shell.audience}:{path}"] = shell
    return shell


def clear() -> None:
    with _lock:
        _shells.clear()


def respond(request: HttpRequest, shell: Shell) -> HttpResponse | None:
    """The shell with this learner's state in it; None for a visitor whose session names no
    visitor's Learner (the caller renders the page in full)."""
    user = request.user
    visitor = visitor_id(request) if shell.audience == VISITOR else None
    page = open_signed_in_page(user, shell.lesson, shell.steps, shell.thread_ids, visitor)
    if page is None:
        return None
    loop, own_posts = page.loop, page.own_posts
    token = get_token(request)
    csrf_marker = shell.csrf_marker
    lesson = shell.lesson
    done = loop.progress is not None and loop.progress.is_completed
    current_mark = shell.marks["current-done" if done else "current"]
    completed, lesson_id, tick = loop.completed_ids, lesson.pk, shell.marks["tick"]

    def fill(name: str, number: int, neutral: str) -> str:
        # The step menus' markers first: they are most of them (two per step, twice).
        if name == "done":
            return " is-done" if number in completed else ""
        if name == "mark":
            if number == lesson_id:
                return current_mark
            return tick if number in completed else ""
        if name == "actions":
            post = own_posts.get(number)
            if post is None:
                return neutral.replace(csrf_marker, token)
            return shell.actions(post).replace(csrf_marker, token)
        if name == "csrf":
            return token
        if name == "progress":
            return shell.progress(loop)
        if name == "loop":
            confidence = loop.progress.confidence if loop.progress else None
            learning_state = json_script(loop.as_json(), "learning-state")
            return shell.loop(confidence, done).replace(shell.state_marker, learning_state)
        if name == "account":
            if shell.audience == VISITOR:
                return shell.accounts[0].replace(csrf_marker, token)
            account = shell.accounts[shell.unread_marker if page.unread else 0]
            account = account.replace(shell.username_marker, escape(user.get_username()))
            return account.replace(shell.unread_marker, str(page.unread)).replace(
                csrf_marker, token
            )
        raise ValueError(f"unknown marker {name!r} in a page shell")

    return HttpResponse(
        "".join(piece if isinstance(piece, str) else fill(*piece) for piece in shell.pieces)
    )


def _render(name: str, context: dict) -> str:
    # No request: context processors (sessions, messages, notification counts) do not run for
    # each small part; the context holds all each part reads.
    return get_template(name).render(context)
