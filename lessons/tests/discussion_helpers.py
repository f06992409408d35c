"""Helpers shared by the discussion tests (fixtures are in conftest.py)."""

from __future__ import annotations

from django.test import Client

from lessons.models import Lesson, Post, Thread

DISCUSSION_URL = "/learn/postgresql/vacuum/discussion/"
NEW_THREAD_URL = "/learn/postgresql/vacuum/discussion/new/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def start_thread(
    lesson: Lesson, author, title: str = "Why is my table bloated?", body: str = ""
) -> Thread:
    return Thread.objects.start(
        lesson=lesson, author=author, title=title, body=body or "It grows every day."
    )


def opening(thread: Thread) -> Post:
    return thread.posts.get(parent__isnull=True)
