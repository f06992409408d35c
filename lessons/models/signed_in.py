"""What a learner's lesson page shows of them, in one statement.

The lesson page of a signed-in learner, or of a visitor whose session holds a Learner (they
answered a question), is a shared shell with the learner's state put in
(lessons/page_shells.py). That state is read, and the visit recorded, by one prepared statement
(config/infra/prepared.py: planned once per connection, its write committed without waiting for
the disk, like the sandbox's counters: a crash may lose the last "opened at"): the learner's
progress in the track (opening the lesson starts it), their quiz answers, self-check marks and
flashcards on the lesson, their unread notifications, and the posts on the page whose buttons
are theirs (their own, the ones they upvoted, the replies in their threads; a visitor has none).
One round trip whatever they have done and however long the discussion; the ORM would build
four queries for it, and building them cost more CPU than running them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from django.db import DEFAULT_DB_ALIAS, connection
from django.utils import timezone

from config.infra.prepared import PreparedStatement
from lessons.models.catalog import Flashcard, Lesson, QuizQuestion, SelfCheckItem
from lessons.models.discussion import Post, Thread, Vote
from lessons.models.learning import (
    FlashcardReview,
    Learner,
    LessonProgress,
    QuizAttempt,
    SelfCheckMark,
)
from lessons.models.notifications import Notification
from lessons.models.pages import LessonPageState, page_state


def _table(model) -> str:
    return model._meta.db_table


# $1 the signed-in user's id, or null for a visitor, whose Learner id (from their session) is $6:
# a visitor's Learner is used only while no account owns it.
_BODY = f"""
WITH learner AS (
  SELECT id FROM {_table(Learner)} WHERE user_id = $1
  UNION ALL
  SELECT id FROM {_table(Learner)} WHERE $1 IS NULL AND id = $6 AND user_id IS NULL
),
opened AS (
  INSERT INTO {_table(LessonProgress)} (learner_id, lesson_id, status, started_at, last_seen_at)
  SELECT id, $2, 'started', $5, $5 FROM learner
  ON CONFLICT (learner_id, lesson_id) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at
  RETURNING id, lesson_id, status, confidence
),
progress AS (
  SELECT * FROM opened
  UNION ALL
  SELECT p.id, p.lesson_id, p.status, p.confidence FROM {_table(LessonProgress)} p
  WHERE p.learner_id = (SELECT id FROM learner) AND p.lesson_id = ANY($3) AND p.lesson_id <> $2
)
SELECT
  (SELECT id FROM learner),
  (SELECT json_agg(json_build_array(id, lesson_id, status, confidence)) FROM progress),
  (SELECT json_agg(json_build_array(q.key, a.is_correct) ORDER BY a.created_at, a.id)
     FROM {_table(QuizAttempt)} a JOIN {_table(QuizQuestion)} q ON q.id = a.question_id
     WHERE a.learner_id = (SELECT id FROM learner) AND q.lesson_id = $2),
  (SELECT json_agg(json_build_array(i.key, m.got_it) ORDER BY m.updated_at, m.id)
     FROM {_table(SelfCheckMark)} m JOIN {_table(SelfCheckItem)} i ON i.id = m.item_id
     WHERE m.learner_id = (SELECT id FROM learner) AND i.lesson_id = $2),
  (SELECT json_agg(json_build_array(c.key, r.knew_it, r.due_on) ORDER BY r.updated_at, r.id)
     FROM {_table(FlashcardReview)} r JOIN {_table(Flashcard)} c ON c.id = r.card_id
     WHERE r.learner_id = (SELECT id FROM learner) AND c.lesson_id = $2),
  (SELECT count(*) FROM {_table(Notification)} WHERE recipient_id = $1 AND read_at IS NULL),
  (SELECT json_agg(json_build_array(
       p.id, p.thread_id, p.author_id, p.parent_id, p.deleted_at, p.hidden_at,
       (SELECT count(*) FROM {_table(Vote)} v WHERE v.post_id = p.id),
       EXISTS (SELECT FROM {_table(Vote)} v WHERE v.post_id = p.id AND v.user_id = $1),
       t.author_id, t.is_locked, t.answer_id,
       EXISTS (SELECT FROM {_table(Post)} o WHERE o.thread_id = t.id
               AND o.parent_id IS NULL AND o.hidden_at IS NOT NULL)))
     FROM {_table(Post)} p JOIN {_table(Thread)} t ON t.id = p.thread_id
     WHERE p.thread_id = ANY($4) AND (p.author_id = $1 OR t.author_id = $1
       OR EXISTS (SELECT FROM {_table(Vote)} v WHERE v.post_id = p.id AND v.user_id = $1)))
"""
_STATEMENT = PreparedStatement(
    "signed_in_page", ["bigint", "bigint", "bigint[]", "bigint[]", "timestamptz", "bigint"], _BODY
)


class _Progress(NamedTuple):
    """What page_state reads of a LessonProgress row of another lesson."""

    lesson_id: int
    is_completed: bool


@dataclass
class SignedInPage:
    loop: LessonPageState
    unread: int = 0  # unread notifications, for the header's badge
    own_posts: dict[int, Post] = field(default_factory=dict)  # id → post, flags set for them


def open_signed_in_page(
    user, lesson: Lesson, steps: list[Lesson], thread_ids: list[int], visitor_id: int | None = None
) -> SignedInPage | None:
    """Record that the learner opened `lesson` and return what their page shows of them: the
    lesson page's LessonPageState (as open_lesson_page), their unread count and the posts of
    `thread_ids` whose buttons are theirs. The learner is `user`'s when signed in (one
    statement, or two on their very first visit: their Learner row is made in between), else
    the visitor's of `visitor_id`; None if that is no visitor's Learner (the caller renders
    the page in full, as for a new visitor)."""
    user_id = user.pk if user.is_authenticated else None
    reader = _Reader(user_id, user_id is not None and user.is_staff)
    row = _run(user_id, visitor_id, lesson, steps, thread_ids)
    if row[0] is None:
        if user_id is None:
            return None
        Learner.objects.for_user(user)
        row = _run(user_id, None, lesson, steps, thread_ids)
    learner_id, progress, quiz, checks, cards, unread, posts = row
    # A model row for this lesson (the page shows its confidence and "done"); the rest of the
    # track needs only whether each is done: plain tuples are cheaper than models.
    rows = [
        LessonProgress(
            id=pk, learner_id=learner_id, lesson_id=lesson_id, status=status, confidence=confidence
        )
        if lesson_id == lesson.pk
        else _Progress(lesson_id, status == LessonProgress.Status.COMPLETED)
        for pk, lesson_id, status, confidence in progress or []
    ]

    loop = page_state(learner_id, lesson, steps, rows, fill_parts=False)
    for key, correct in quiz or []:
        entry = loop.quiz.setdefault(key, {"attempts": 0, "correct": False})
        entry["attempts"] += 1
        entry["correct"] = correct
    loop.self_checks = {key: got_it for key, got_it in checks or []}
    loop.cards = {key: {"knew_it": knew, "due_on": due} for key, knew, due in cards or []}
    return SignedInPage(loop, unread, _own_posts(reader, posts or []))


def _run(
    user_id: int | None,
    visitor_id: int | None,
    lesson: Lesson,
    steps: list[Lesson],
    thread_ids: list[int],
) -> tuple:
    steps_ids = [step.pk for step in steps]
    params = [user_id, lesson.pk, steps_ids, thread_ids, timezone.now(), visitor_id]
    with connection.cursor() as cursor:
        _STATEMENT.execute(cursor, params)
        return cursor.fetchone()


class _Reader(NamedTuple):
    """The user as the discussion's permission methods read one (pk, is_authenticated,
    is_staff): they read it a dozen times per post, and `request.user` is a lazy proxy that
    makes each read a call."""

    pk: int | None
    is_staff: bool

    @property
    def is_authenticated(self) -> bool:
        return self.pk is not None


# The columns the statement returns of a post and of its thread, in the models' field order
# (Model.from_db's fast path: the other fields are left deferred, not defaulted one by one).
_POST_FIELDS = ["id", "thread_id", "author_id", "parent_id", "deleted_at", "hidden_at"]
_THREAD_FIELDS = ["id", "author_id", "is_locked", "answer_id"]


def _own_posts(reader: _Reader, rows: list[list]) -> dict[int, Post]:
    posts: dict[int, Post] = {}
    threads: dict[int, Thread] = {}
    for row in rows:
        pk, thread_id, author_id, parent_id, deleted_at, hidden_at, votes, voted = row[:8]
        thread = threads.get(thread_id)
        if thread is None:
            thread_author_id, is_locked, answer_id, thread_hidden = row[8:]
            values = [thread_id, thread_author_id, is_locked, answer_id]
            thread = threads[thread_id] = Thread.from_db(DEFAULT_DB_ALIAS, _THREAD_FIELDS, values)
            thread.__dict__["is_hidden"] = thread_hidden  # the cached_property, known here
        values = [pk, thread_id, author_id, parent_id, _when(deleted_at), _when(hidden_at)]
        post = Post.from_db(DEFAULT_DB_ALIAS, _POST_FIELDS, values)
        post.thread = thread
        post.vote_count, post.voted = votes, voted
        post.set_flags_for(reader)
        posts[pk] = post
    return posts


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
