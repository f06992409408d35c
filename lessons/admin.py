"""Read-mostly admin: lessons come from content/ through `manage.py content sync`."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User

from lessons.account_forms import AdminUserAddForm, AdminUserEditForm
from lessons.models import (
    ContentRevision,
    Flag,
    Lesson,
    ModerationAction,
    Notification,
    Post,
    Thread,
    Track,
    Vote,
)


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


# == Discussion ===============================================================================
# Moderating through the admin goes through the same model methods as the site, so every hide,
# restore, lock and pin is recorded as a ModerationAction with who and when.


class PostInline(admin.TabularInline):
    model = Post
    fields = ("author", "parent", "body", "created_at", "edited_at", "deleted_at", "hidden_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Thread)
class ThreadAdmin(admin.ModelAdmin):
    list_display = ("title", "lesson", "author", "last_activity_at", "is_locked", "is_pinned")
    list_filter = ("is_locked", "is_pinned", "lesson__track")
    search_fields = ("title", "author__username", "lesson__title")
    list_select_related = ("lesson__track", "author")
    raw_id_fields = ("lesson", "author", "answer")
    readonly_fields = ("is_locked", "is_pinned")
    inlines = [PostInline]
    actions = ["lock", "unlock", "pin", "unpin"]

    def _moderate(self, request, queryset, action: str) -> None:
        for thread in queryset:
            thread.moderate(action, by=request.user, note="via admin")
        self.message_user(request, f"{queryset.count()} thread(s): {action}.")

    @admin.action(description="Lock selected threads")
    def lock(self, request, queryset):
        self._moderate(request, queryset, ModerationAction.Action.LOCK)

    @admin.action(description="Unlock selected threads")
    def unlock(self, request, queryset):
        self._moderate(request, queryset, ModerationAction.Action.UNLOCK)

    @admin.action(description="Pin (one per lesson: the last one wins)")
    def pin(self, request, queryset):
        self._moderate(request, queryset, ModerationAction.Action.PIN)

    @admin.action(description="Unpin selected threads")
    def unpin(self, request, queryset):
        self._moderate(request, queryset, ModerationAction.Action.UNPIN)


class FlagInline(admin.TabularInline):
    model = Flag
    fk_name = "post"
    fields = ("reporter", "reason", "note", "created_at", "resolved_at", "resolved_by")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ("__str__", "thread", "author", "created_at", "is_hidden", "is_deleted")
    list_filter = ("hidden_at", "deleted_at")
    search_fields = ("body", "author__username", "thread__title")
    list_select_related = ("thread", "author")
    raw_id_fields = ("thread", "author", "parent")
    readonly_fields = ("body_html", "created_at", "edited_at", "deleted_at", "hidden_at")
    inlines = [FlagInline]
    actions = ["hide", "restore"]

    @admin.display(boolean=True)
    def is_hidden(self, post: Post) -> bool:
        return post.is_hidden

    @admin.display(boolean=True)
    def is_deleted(self, post: Post) -> bool:
        return post.is_deleted

    @admin.action(description="Hide selected posts")
    def hide(self, request, queryset):
        for post in queryset:
            post.moderate(ModerationAction.Action.HIDE, by=request.user, note="via admin")

    @admin.action(description="Restore selected posts")
    def restore(self, request, queryset):
        for post in queryset:
            post.moderate(ModerationAction.Action.RESTORE, by=request.user, note="via admin")

    def save_model(self, request, obj, form, change):
        if change and "body" in form.changed_data:
            obj.edit(body=obj.body, by=request.user)
        else:
            super().save_model(request, obj, form, change)


@admin.register(Flag)
class FlagAdmin(admin.ModelAdmin):
    list_display = ("post", "reason", "reporter", "created_at", "resolved_at", "resolved_by")
    list_filter = ("reason", ("resolved_at", admin.EmptyFieldListFilter))
    list_select_related = ("post", "reporter", "resolved_by")
    raw_id_fields = ("post", "reporter", "resolved_by")


@admin.register(ModerationAction)
class ModerationActionAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor", "former_actor", "action", "thread", "post", "note")
    list_filter = ("action",)
    list_select_related = ("actor", "thread", "post")
    raw_id_fields = ("actor", "thread", "post")

    # The record of what moderators did is not itself editable.
    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ("post", "user", "created_at")
    raw_id_fields = ("post", "user")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("recipient", "kind", "post", "created_at", "read_at")
    list_filter = ("kind", ("read_at", admin.EmptyFieldListFilter))
    raw_id_fields = ("recipient", "post")


# -- Users, with the site's username rules (lessons/account_forms.py) --------------------------

admin.site.unregister(User)


@admin.register(User)
class QuerylabUserAdmin(UserAdmin):
    add_form = AdminUserAddForm
    form = AdminUserEditForm
