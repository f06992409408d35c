from __future__ import annotations

import re

import pytest

from lessons.models import SelfCheckMark

pytestmark = pytest.mark.django_db

URL = "/learn/sql/lesson-1/self-check/what-is-a-row/"


def test_it_reveals_the_answer_on_request(client, course):
    assert "One record of a table." not in course[0].body_html
    page = client.get(URL).content.decode()
    assert "One record of a table." in page
    assert "Got it" in page and "Not yet" in page
    assert not SelfCheckMark.objects.exists()


def test_it_remembers_got_it_and_not_yet(client, course):
    response = client.post(URL, {"answer": "0"})
    assert "✓ Saved" in response.content.decode()
    assert "progressChanged" in response["HX-Trigger"]
    client.post(URL, {"answer": "1"})
    mark = SelfCheckMark.objects.get()
    assert mark.got_it is True
    assert re.search(r'aria-pressed="true"[^>]*>Got it<', client.get(URL).content.decode())
