from __future__ import annotations

from django.urls import path

from lessons import learning_views, views

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
