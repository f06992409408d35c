"""Read-mostly admin: lessons come from content/ through `manage.py content sync`."""

from __future__ import annotations

from django.contrib import admin

from lessons.models import ContentRevision, Lesson, Track


@admin.register(Track)
class TrackAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "order", "is_published"]


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    list_display = ["title", "track", "step", "level", "mode", "content_version", "is_published"]
    list_filter = ["track", "mode", "level", "is_published"]
    search_fields = ["title", "slug", "summary"]
    readonly_fields = [f.name for f in Lesson._meta.fields if f.name != "is_published"]


@admin.register(ContentRevision)
class ContentRevisionAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at"]
    readonly_fields = ["created_at", "published", "unpublished"]
