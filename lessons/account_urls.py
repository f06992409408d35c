from __future__ import annotations

from django.urls import path

from lessons import account_views

app_name = "account"
urlpatterns = [
    path("", account_views.account_page, name="page"),
    path("profile/", account_views.profile_save, name="profile"),
    path("email/", account_views.email_change, name="email"),
    path("email/confirm/<str:token>/", account_views.email_confirm, name="email_confirm"),
    path("password/", account_views.password_change, name="password"),
    path("sessions/sign-out-others/", account_views.sign_out_others, name="sign_out_others"),
    path("export.json", account_views.export, name="export"),
    path("delete/", account_views.delete, name="delete"),
]
