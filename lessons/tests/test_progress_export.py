from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_it_exports_everything_the_learner_did(client, learner, other_learner, course):
    client.force_login(learner)
    client.get("/learn/sql/lesson-2/")
    client.post("/learn/sql/lesson-1/quiz/pick-many/", {"choice": ["update", "insert"]})
    client.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    client.post("/learn/sql/lesson-1/confidence/", {"level": "3"})
    client.post("/learn/sql/lesson-1/self-check/what-is-a-row/", {"answer": "1"})
    client.post("/learn/sql/lesson-1/cards/card-mvcc/", {"answer": "0"})
    bob = Client()
    bob.force_login(other_learner)
    bob.post("/learn/sql/lesson-3/done/", {"answer": "1"})

    response = client.get("/progress/export.json")
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith('attachment; filename="querylab-progress-')
    data = response.json()
    assert data["account"] == "ada"
    lessons = {row["lesson"]: row for row in data["lessons"]}
    assert set(lessons) == {"sql/lesson-1", "sql/lesson-2"}  # nothing of Bob's
    assert lessons["sql/lesson-1"]["status"] == "completed"
    assert lessons["sql/lesson-1"]["confidence"] == "Mostly"
    assert lessons["sql/lesson-2"]["status"] == "started"
    assert data["quiz_attempts"] == [
        {
            "lesson": "sql/lesson-1",
            "question": "pick-many",
            "choices": ["insert", "update"],
            "correct": True,
            "at": data["quiz_attempts"][0]["at"],
        }
    ]
    assert data["self_checks"][0]["got_it"] is True
    assert data["flashcards"][0]["card"] == "card-mvcc" and data["flashcards"][0]["due_on"]


def test_it_exports_an_empty_record_for_a_new_visitor(client, course):
    data = client.get("/progress/export.json").json()
    assert data["format"] == "querylab-progress/1"
    assert data["lessons"] == data["quiz_attempts"] == data["self_checks"] == data["flashcards"]
    assert data["lessons"] == []
