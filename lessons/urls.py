from __future__ import annotations

from django.urls import path

from lessons import analytics_views, certificate_views, discussion_views, learning_views, views

app_name = "lessons"
urlpatterns = [
    path("search/", views.search, name="search"),
    path("learn/preview/", views.preview, name="preview"),
    path("learn/<slug:track>/", views.track_detail, name="track"),
    path("learn/<slug:track>/<slug:lesson>/", views.lesson_detail, name="detail"),
    # -- Learning loop (lessons/learning_views.py)
    path("progress/", learning_views.progress_page, name="progress"),
    path("progress/export.json", learning_views.progress_export, name="progress_export"),
    path("review/", learning_views.review_page, name="review"),
    path("review/<int:item_id>/", learning_views.review_grade, name="review_grade"),
    path("certificates/new/<slug:track>/", certificate_views.take, name="certificate_take"),
    path("certificates/<str:token>/", certificate_views.show, name="certificate"),
    path(
        "certificates/<str:token>/revoke/",
        certificate_views.revoke,
        name="certificate_revoke",
    ),
    path(
        "learn/<slug:track>/<slug:slug>/quiz/<slug:key>/",
        learning_views.quiz_question,
        name="quiz_question",
    ),
    path(
        "learn/<slug:track>/<slug:slug>/self-check/<slug:key>/",
        learning_views.self_check,
        name="self_check",
    ),
    path(
        "learn/<slug:track>/<slug:slug>/cards/<slug:key>/",
        learning_views.flashcard,
        name="flashcard",
    ),
    path(
        "learn/<slug:track>/<slug:slug>/confidence/", learning_views.confidence, name="confidence"
    ),
    path("learn/<slug:track>/<slug:slug>/done/", learning_views.done, name="done"),
    path("learn/<slug:track>/<slug:slug>/opened/", learning_views.opened, name="opened"),
    path(
        "learn/<slug:track>/<slug:slug>/progress/",
        learning_views.lesson_progress,
        name="lesson_progress",
    ),
]

# -- Discussion ---------------------------------------------------------------------------
urlpatterns += [
    path(
        "learn/<slug:track>/<slug:slug>/discussion/",
        discussion_views.discussion,
        name="discussion",
    ),
    path(
        "learn/<slug:track>/<slug:slug>/discussion/new/",
        discussion_views.thread_create,
        name="thread_create",
    ),
    path("discussion/threads/<int:thread_id>/", discussion_views.thread, name="thread"),
    path(
        "discussion/threads/<int:thread_id>/moderate/",
        discussion_views.thread_moderate,
        name="thread_moderate",
    ),
    path("discussion/posts/<int:post_id>/reply/", discussion_views.post_reply, name="post_reply"),
    path("discussion/posts/<int:post_id>/edit/", discussion_views.post_edit, name="post_edit"),
    path(
        "discussion/posts/<int:post_id>/delete/", discussion_views.post_delete, name="post_delete"
    ),
    path("discussion/posts/<int:post_id>/vote/", discussion_views.post_vote, name="post_vote"),
    path(
        "discussion/posts/<int:post_id>/answer/", discussion_views.post_answer, name="post_answer"
    ),
    path("discussion/posts/<int:post_id>/flag/", discussion_views.post_flag, name="post_flag"),
    path(
        "discussion/posts/<int:post_id>/moderate/",
        discussion_views.post_moderate,
        name="post_moderate",
    ),
    path("discussion/moderation/", discussion_views.moderation_queue, name="moderation_queue"),
    path("discussion/notifications/", discussion_views.notifications, name="notifications"),
    path(
        "discussion/notifications/read/",
        discussion_views.notifications_read,
        name="notifications_read",
    ),
]

# -- Where learners struggle, for staff (lessons/analytics_views.py) ------------------------
urlpatterns += [
    path("staff/analytics/", analytics_views.index, name="analytics"),
    path("staff/analytics/<slug:track>/", analytics_views.track_report, name="track_analytics"),
    path(
        "staff/analytics/<slug:track>/analytics.csv",
        analytics_views.track_csv,
        name="track_analytics_csv",
    ),
    path(
        "staff/analytics/<slug:track>/<slug:slug>/",
        analytics_views.lesson_report,
        name="lesson_analytics",
    ),
    path(
        "staff/analytics/<slug:track>/<slug:slug>/analytics.csv",
        analytics_views.lesson_csv,
        name="lesson_analytics_csv",
    ),
]
