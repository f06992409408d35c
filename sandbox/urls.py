from __future__ import annotations

from django.urls import path

from sandbox import exercise_views, share_views, views
from sandbox.lab import api as lab_api

app_name = "sandbox"
urlpatterns = [
    path("api/sandbox/run", views.run, name="run"),
    path("api/sandbox/explain", views.explain, name="explain"),
    path("api/sandbox/reset", views.reset, name="reset"),
    path("api/sandbox/status", views.sandbox_status, name="status"),
    path("api/sandbox/schema", views.schema, name="schema"),
    path("api/sandbox/check", exercise_views.check_exercise, name="check"),
    path("api/sandbox/solution", exercise_views.exercise_solution, name="solution"),
    path("api/sandbox/share", share_views.share, name="share"),
    path("s/<slug:token>/", share_views.shared, name="shared"),
    path("s/<slug:token>/delete", share_views.delete_share, name="delete_share"),
    path("s/<slug:token>/keep", share_views.keep_share, name="keep_share"),
    path("api/sandbox/exercise-help", exercise_views.exercise_help, name="exercise_help"),
    path("api/lab/run", lab_api.run, name="lab_run"),
    path("api/lab/check", lab_api.check, name="lab_check"),
    path("sandbox/plans/compare", views.compare_plans, name="compare"),
    path("sandbox/<slug:track>/<slug:slug>/", views.lesson_sandbox, name="lesson"),
]
