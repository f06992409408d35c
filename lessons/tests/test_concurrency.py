"""Two tabs or devices completing lessons at the same moment lose nothing."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from lessons.models import Learner, LessonProgress

pytestmark = pytest.mark.django_db(transaction=True)


def at_once(clients: list[Client], requests: list[tuple[str, dict]]) -> list[int]:
    """Each client sends every request, all clients together, released by one barrier."""
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def run(client: Client) -> None:
        try:
            barrier.wait()
            for url, data in requests:
                statuses.append(client.post(url, data).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def completed_slugs(learner: Learner) -> list[str]:
    rows = LessonProgress.objects.filter(learner=learner).completed()
    return sorted(rows.values_list("lesson__slug", flat=True))


def test_it_keeps_every_completion_from_two_devices(learner, course):
    devices = [Client(), Client()]
    for device in devices:
        device.force_login(learner)
    # Neither device has a Learner row yet: both create it in the same instant.
    Learner.objects.all().delete()
    requests = [(f"/learn/sql/{lesson.slug}/done/", {"answer": "1"}) for lesson in course]
    requests += [("/learn/sql/lesson-2/confidence/", {"level": "3"})]

    assert at_once(devices, requests) == [200] * 8
    (account,) = Learner.objects.all()
    assert completed_slugs(account) == ["lesson-1", "lesson-2", "lesson-3"]
    assert LessonProgress.objects.count() == 3
    assert LessonProgress.objects.get(lesson__slug="lesson-2").confidence == 3


def test_it_keeps_every_completion_from_two_tabs_of_a_visitor(course):
    first_tab = Client()
    first_tab.post("/learn/sql/lesson-1/opened/")  # the visitor's session and Learner
    second_tab = Client()
    second_tab.cookies = first_tab.cookies
    requests = [(f"/learn/sql/{lesson.slug}/done/", {"answer": "1"}) for lesson in course]

    # One tab completes lessons 1-3 while the other completes 3-1: same rows, opposite order.
    tabs = [first_tab, second_tab]
    statuses = at_once(tabs, requests) + at_once(tabs, list(reversed(requests)))
    assert statuses == [200] * 12
    (visitor,) = Learner.objects.all()
    assert completed_slugs(visitor) == ["lesson-1", "lesson-2", "lesson-3"]
    assert LessonProgress.objects.count() == 3
