from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from config.infra import views as operations
from lessons import account_views
from lessons import views as lesson_views

handler500 = "config.infra.unavailable.server_error"

urlpatterns = [
    path("", lesson_views.home, name="home"),
    path("healthz", operations.healthz, name="healthz"),
    path("metrics", operations.metrics_view, name="metrics"),
    path("accounts/signup/", account_views.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("account/", include("lessons.account_urls")),
    path("admin/", admin.site.urls),
    path("", include("lessons.urls")),
    path("", include("sandbox.urls")),
]
