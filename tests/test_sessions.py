"""config/infra/sessions.py: Django's database sessions with fewer round trips."""

from __future__ import annotations

import pytest
from django.contrib.sessions.backends.base import CreateError
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.infra.sessions import SessionStore

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_creates_a_session_in_one_statement():
    store = SessionStore()
    store["sandbox_learner"] = "abc"
    with CaptureQueriesContext(connection) as queries:
        store.save()
    assert len(queries) == 1 and queries[0]["sql"].startswith("INSERT")
    assert SessionStore(store.session_key)["sandbox_learner"] == "abc"


def test_it_updates_a_session_in_one_statement():
    store = SessionStore()
    store["n"] = 1
    store.save()
    store["n"] = 2
    with CaptureQueriesContext(connection) as queries:
        store.save()
    assert len(queries) == 1 and queries[0]["sql"].startswith("UPDATE")
    assert SessionStore(store.session_key)["n"] == 2


def test_a_clashing_key_is_refused_then_redrawn(monkeypatch):
    taken = SessionStore()
    taken["who"] = "first"
    taken.save()
    store = SessionStore()
    store._session_key = taken.session_key
    with pytest.raises(CreateError):
        store.save(must_create=True)
    keys = iter([taken.session_key, "k" * 32])
    monkeypatch.setattr(SessionStore, "_get_new_session_key", lambda self: next(keys))
    store = SessionStore()
    store["who"] = "second"
    store.create()
    assert store.session_key == "k" * 32
    assert SessionStore(taken.session_key)["who"] == "first"
    assert Session.objects.count() == 2
