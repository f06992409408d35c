"""Django's database sessions, with fewer round trips when a session is written, and a
cheaper read.

A visitor's first sandbox run creates their session (the sandbox is keyed by it). Django's
database backend spends four round trips on that: a SELECT to check that a new random key is
unused, then BEGIN, INSERT and COMMIT. Both are redundant: the INSERT fails on a clashing key
(then Django's ``create()`` draws another), and outside a transaction one INSERT or UPDATE is
atomic on its own. Inside a transaction this behaves exactly like Django's backend.

Every request of a visitor with a session reads it, so the read is one plain SELECT instead of
an ORM query (building and compiling that costs more than the round trip itself). A caller that
talks to the database anyway can send that SELECT with its own statement (``lookup``) and hand
the row back (``use_row``): the sandbox's run path reads the session that way, in the round trip
that admits the run.
"""

from __future__ import annotations

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.db import DatabaseError, IntegrityError, connections, router
from django.utils import timezone
from django.utils.crypto import get_random_string

_NOT_GIVEN = object()


class SessionStore(db.SessionStore):
    _given_row = _NOT_GIVEN

    def lookup(self) -> tuple[str, list] | None:
        """The SELECT (and its parameters) that reads this session's row, for a caller to send
        in a round trip of its own and give the row (or None) to ``use_row``. None when there
        is nothing to read: no session key, or the session was read already."""
        if hasattr(self, "_session_cache") or not isinstance(self.session_key, str):
            return None
        return self._select()

    def _select(self) -> tuple[str, list]:
        model = self.model
        table = connections[router.db_for_read(model)].ops.quote_name(model._meta.db_table)
        return (
            f"SELECT session_data, expire_date FROM {table} "
            "WHERE session_key = %s AND expire_date > %s",
            [self.session_key, timezone.now()],
        )

    def use_row(self, row: tuple | None) -> None:
        """The row ``lookup``'s statement found: the session is loaded from it, not read again.
        The data is checked (signature, expiry) as if it had been read here."""
        self._given_row = row

    def _get_session_from_db(self):
        # As Django's: the session unless missing or expired (then the key is forgotten).
        model = self.model
        if not isinstance(self.session_key, str):
            self._session_key = None
            return None
        if self._given_row is not _NOT_GIVEN:
            row, self._given_row = self._given_row, _NOT_GIVEN
        else:
            with connections[router.db_for_read(model)].cursor() as cursor:
                cursor.execute(*self._select())
                row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return model(session_key=self.session_key, session_data=row[0], expire_date=row[1])

    def _get_new_session_key(self) -> str:
        # 32 characters of 36: a clash makes save(must_create=True) raise CreateError.
        return get_random_string(32, VALID_KEY_CHARS)

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        using = router.db_for_write(self.model)
        if connections[using].in_atomic_block:
            return super().save(must_create=must_create)
        data = self._get_session(no_load=must_create)
        obj = self.create_model_instance(data)
        try:
            obj.save(force_insert=must_create, force_update=not must_create, using=using)
        except IntegrityError:
            if must_create:
                raise CreateError from None
            raise
        except DatabaseError:
            if not must_create:
                raise UpdateError from None
            raise


def clear_expired() -> int:
    """Delete expired sessions, as Django's ``clearsessions`` does, and say how many went.
    Nothing else removes them; the sandbox janitor calls this on every sweep."""
    deleted, _ = (
        SessionStore.get_model_class().objects.filter(expire_date__lt=timezone.now()).delete()
    )
    return deleted
