"""Text that makes a reader see something other than what was written: invisible
text-direction controls, characters buried under piles of combining marks ("Zalgo"), and
usernames that look like someone else's.

Pure functions, no ORM: the forms that take titles, posts and usernames call these, and
lessons.models.UsernameSkeleton stores `username_skeleton()` so a look-alike is found by index.

- **Direction controls.** The embeddings, overrides and isolates (U+202A–U+202E,
  U+2066–U+2069) reorder the characters after them until they are closed, so "txt.exe" can
  show as "exe.txt". The marks (U+200E LRM, U+200F RLM, U+061C ALM) only settle the direction
  of the neutral characters beside them. Titles and usernames are short and shown everywhere
  (lists, notifications, mail subjects), so they take none of them. A post body keeps the
  marks: Arabic or Hebrew prose with Latin words, numbers or SQL in it needs them to read in
  the right order. It refuses the reordering controls, rather than stripping them in silence:
  the author sees why, and what is published is exactly what they wrote.
- **Combining marks.** At most `MAX_COMBINING_MARKS` in a row on one base character, counted
  after NFC composition (so an accent typed as a separate mark counts like a precomposed
  letter): Vietnamese needs two (ệ), some Indic scripts three; piles of dozens or thousands
  exist only to draw over the lines around them.
- **Look-alike usernames.** Unicode TR 39's confusable skeleton, from ICU's SpoofChecker
  (PyICU, from the icukit-pyicu wheel, which bundles ICU 78), the reference implementation.
"""

from __future__ import annotations

import unicodedata

import icu
from django.core.exceptions import ValidationError

DIRECTION_MARKS = frozenset("\u200e\u200f\u061c")
DIRECTION_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
ALL_DIRECTION_CHARACTERS = DIRECTION_MARKS | DIRECTION_CONTROLS

MAX_COMBINING_MARKS = 4

# uspoof_getSkeleton only reads the checker, so one instance serves every thread.
_SPOOF_CHECKER = icu.SpoofChecker()


def direction_character_in(text: str, characters: frozenset[str]) -> str | None:
    """The first of `characters` in `text`, or None."""
    return next((char for char in text if char in characters), None)


def longest_run_of_combining_marks(text: str) -> int:
    """The most combining marks (nonspacing or enclosing, or any with a combining class) that
    follow one another in `text`, after NFC composition."""
    longest = run = 0
    for char in unicodedata.normalize("NFC", text):
        if unicodedata.combining(char) or unicodedata.category(char) in {"Mn", "Me"}:
            run += 1
            longest = max(longest, run)
        else:
            run = 0
    return longest


def check_text(text: str, *, what: str, direction_characters: frozenset[str]) -> None:
    """Raise a ValidationError that names the problem if `text` holds one of
    `direction_characters` or more than MAX_COMBINING_MARKS combining marks in a row.

    `what` names the text in the message: "The title", "Your post", "The username".
    """
    found = direction_character_in(text, direction_characters)
    if found is not None:
        raise ValidationError(
            "%(what)s contains an invisible text-direction character (U+%(code)04X %(name)s), "
            "which can make text show in a different order from how it was typed. "
            "Remove it and try again.",
            code="direction_character",
            params={"what": what, "code": ord(found), "name": unicodedata.name(found)},
        )
    if longest_run_of_combining_marks(text) > MAX_COMBINING_MARKS:
        raise ValidationError(
            "%(what)s stacks more than %(limit)d combining marks (accents and the like) on one "
            "character. Remove the extra marks and try again.",
            code="combining_marks",
            params={"what": what, "limit": MAX_COMBINING_MARKS},
        )


def username_skeleton(username: str) -> str:
    """The key under which two usernames that look alike are equal: TR 39's skeleton, taken
    again after case folding, so that `ѕecstaff`, `SecStaff`, `ЅecStaff` and `secstaff`
    share one, and so do `paypal` and `paypaI` (the skeleton first maps the capital I to l;
    folding first would make it an i)."""
    text = unicodedata.normalize("NFKC", username)
    return _SPOOF_CHECKER.getSkeleton(0, _SPOOF_CHECKER.getSkeleton(0, text).casefold())
