"""Querylab's records, one module per domain (as Zulip splits zerver/models/):

- accounts: what the site keeps about a user beyond Django's User;
- catalog: tracks, lessons and their structured parts, search;
- discussion: threads, posts and votes; moderation: flags and the moderation log;
  notifications: what a reply tells the people it answers;
- learning: learners and what they did (progress, quiz attempts, self-checks, flashcards);
- reviews: FSRS review items and exercise outcomes; certificates: certificates of completion;
- pages: read models of what a page shows of one learner.

Import from here (`from lessons.models import Lesson`); the modules import each other in that
order only.
"""

from __future__ import annotations

from lessons.models.accounts import (
    AccountProfile,
    RetiredUsername,
    SignedInDevice,
    SignedInDeviceQuerySet,
    UsernameSkeleton,
    UsernameSkeletonQuerySet,
    name_is_taken,
)
from lessons.models.catalog import (
    HIGHLIGHT_START,
    HIGHLIGHT_STOP,
    SEARCH_CONFIG,
    ContentRevision,
    ContentRevisionQuerySet,
    Exercise,
    Flashcard,
    InterviewQuestion,
    Lesson,
    LessonPart,
    LessonPartQuerySet,
    LessonQuerySet,
    QuizChoice,
    QuizQuestion,
    SelfCheckItem,
    SqlExample,
    Track,
    TrackPosition,
    TrackQuerySet,
    cached_reverse,
    snippet_html,
)
from lessons.models.certificates import Certificate, CertificateQuerySet, NotFinished
from lessons.models.discussion import (
    DISCUSSION_STAMP_KEY,
    HIDDEN_THREAD_TITLE,
    SIGNED_IN_READER,
    DiscussionLimit,
    Post,
    PostQuerySet,
    Thread,
    ThreadQuerySet,
    Vote,
    discussion_stamp,
    normalise_text,
)
from lessons.models.learning import (
    LEARNER_SESSION_KEY,
    REVIEW_INTERVALS_DAYS,
    Confidence,
    FlashcardReview,
    FlashcardReviewQuerySet,
    Learner,
    LearnerQuerySet,
    LessonProgress,
    LessonProgressQuerySet,
    QuizAttempt,
    QuizAttemptQuerySet,
    SelfCheckMark,
    learner_absorbed,
)
from lessons.models.moderation import Flag, ModerationAction
from lessons.models.notifications import Notification, NotificationQuerySet
from lessons.models.pages import (
    LessonPageState,
    ProgressOverview,
    TrackProgress,
    lesson_progress_state,
    open_lesson_page,
    page_state,
    progress_overview,
    weekly_summary,
)
from lessons.models.reviews import (
    CONFIDENCE_RATING,
    ExerciseOutcome,
    ReviewEvent,
    ReviewItem,
    ReviewItemQuerySet,
)
from lessons.models.signed_in import SignedInPage, open_signed_in_page

__all__ = [
    "AccountProfile",
    "RetiredUsername",
    "SignedInDevice",
    "SignedInDeviceQuerySet",
    "name_is_taken",
    "UsernameSkeleton",
    "UsernameSkeletonQuerySet",
    "SEARCH_CONFIG",
    "HIGHLIGHT_START",
    "HIGHLIGHT_STOP",
    "snippet_html",
    "cached_reverse",
    "TrackPosition",
    "TrackQuerySet",
    "Track",
    "LessonQuerySet",
    "Lesson",
    "LessonPartQuerySet",
    "LessonPart",
    "QuizQuestion",
    "QuizChoice",
    "SelfCheckItem",
    "InterviewQuestion",
    "Flashcard",
    "SqlExample",
    "Exercise",
    "ContentRevisionQuerySet",
    "ContentRevision",
    "DiscussionLimit",
    "ThreadQuerySet",
    "HIDDEN_THREAD_TITLE",
    "SIGNED_IN_READER",
    "Thread",
    "PostQuerySet",
    "normalise_text",
    "Post",
    "Vote",
    "Flag",
    "ModerationAction",
    "NotificationQuerySet",
    "Notification",
    "DISCUSSION_STAMP_KEY",
    "discussion_stamp",
    "LEARNER_SESSION_KEY",
    "learner_absorbed",
    "REVIEW_INTERVALS_DAYS",
    "Confidence",
    "LearnerQuerySet",
    "Learner",
    "LessonProgressQuerySet",
    "LessonProgress",
    "QuizAttemptQuerySet",
    "QuizAttempt",
    "SelfCheckMark",
    "FlashcardReviewQuerySet",
    "FlashcardReview",
    "CONFIDENCE_RATING",
    "ExerciseOutcome",
    "ReviewEvent",
    "ReviewItem",
    "ReviewItemQuerySet",
    "Certificate",
    "CertificateQuerySet",
    "NotFinished",
    "LessonPageState",
    "open_lesson_page",
    "open_signed_in_page",
    "page_state",
    "SignedInPage",
    "lesson_progress_state",
    "TrackProgress",
    "ProgressOverview",
    "progress_overview",
    "weekly_summary",
]
