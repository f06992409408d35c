from __future__ import annotations

from django.urls import path

from sandbox import views
from sandbox.lab import api as lab_api

app_name = "sandbox"
urlpatterns = [
    path("api/sandbox/run", views.run, name="run"),
    path("api/sandbox/explain", views.explain, name="explain"),
    path("api/sandbox/reset", views.reset, name="reset"),
    path("api/sandbox/schema", views.schema, name="schema"),
    path("api/sandbox/check", views.check_exercise, name="check"),
    path("api/sandbox/solution", views.exercise_solution, name="solution"),
    path("api/lab/run", lab_api.run, name="lab_run"),
    path("api/lab/check", lab_api.check, name="lab_check"),
    path("sandbox/plans/compare", views.compare_plans, name="compare"),
    path("sandbox/<slug:track>/<slug:slug>/", views.lesson_sandbox, name="lesson"),
]
