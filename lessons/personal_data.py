"""What other apps hold about a user, for the account export and deletion.

The account code lives in `lessons`, which imports nothing from the sandbox; the sandbox
registers its kinds of personal data from its AppConfig.ready() (sandbox/personal_data.py),
as it registers its content checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PersonalData:
    """One kind of personal data: `export(user)` gives its JSON-ready rows (under `kind` in
    the account export) and `erase(user)` deletes them, inside the deletion's transaction
    (anything outside the database belongs in transaction.on_commit)."""

    kind: str
    export: Callable[[object], list[dict]]
    erase: Callable[[object], None]


_REGISTERED: dict[str, PersonalData] = {}


def register_personal_data(
    kind: str, *, export: Callable[[object], list[dict]], erase: Callable[[object], None]
) -> None:
    """Add a kind of personal data to every account export and deletion (idempotent)."""
    _REGISTERED[kind] = PersonalData(kind, export, erase)


def registered_personal_data() -> list[PersonalData]:
    return list(_REGISTERED.values())
