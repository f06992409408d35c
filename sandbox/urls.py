from __future__ import annotations

from django.urls import path

from sandbox import views

app_name = "sandbox"
urlpatterns = [
    path("api/sandbox/run", views.run, name="run"),
    path("api/sandbox/explain", views.explain, name="explain"),
    path("api/sandbox/reset", views.reset, name="reset"),
    path("api/sandbox/check", views.check_exercise, name="check"),
    path("api/sandbox/solution", views.exercise_solution, name="solution"),
    path("sandbox/plans/compare", views.compare_plans, name="compare"),
    path("sandbox/<slug:track>/<slug:slug>/", views.lesson_sandbox, name="lesson"),
]
