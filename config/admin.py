"""The admin's user pages, with the site's username rules (config/forms.py)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User

from config.forms import AdminUserAddForm, AdminUserEditForm

admin.site.unregister(User)


@admin.register(User)
class QuerylabUserAdmin(UserAdmin):
    add_form = AdminUserAddForm
    form = AdminUserEditForm
