from __future__ import annotations

from django.urls import path

from lessons import views

app_name = "lessons"
urlpatterns = [
    path("search/", views.search, name="search"),
    path("learn/preview/", views.preview, name="preview"),
    path("learn/<slug:track>/", views.track_detail, name="track"),
    path("learn/<slug:track>/<slug:lesson>/", views.lesson_detail, name="detail"),
]
