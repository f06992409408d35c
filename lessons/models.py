"""Tracks and lessons, as published from content/ by `manage.py content sync`.

A lesson is identified by its track and slug (the file name without its `NN-` step prefix), so
learner data attached to it survives edits and renumbering.
"""

from __future__ import annotations

from django.db import models


class Track(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)
    is_published = models.BooleanField(default=True)

    class Meta:
        ordering = ["order", "title"]

    def __str__(self) -> str:
        return self.title


class LessonQuerySet(models.QuerySet):
    def published(self) -> LessonQuerySet:
        return self.filter(is_published=True, track__is_published=True)

    def by_ref(self, ref: str) -> Lesson:
        """The published lesson named by "<track>/<slug>"; raises Lesson.DoesNotExist."""
        track_slug, _, slug = ref.partition("/")
        return self.published().select_related("track").get(track__slug=track_slug, slug=slug)


class Lesson(models.Model):
    class Mode(models.TextChoices):
        READING = "reading", "Reading"
        SQL_SANDBOX = "sql_sandbox", "SQL sandbox"

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="lessons")
    slug = models.SlugField()
    step = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.READING)
    # The sandbox fixture's file name under content/fixtures/, or "" for an empty schema.
    fixture = models.CharField(max_length=200, blank=True)
    # Procedural languages this lesson's sandboxes may use (for example ["plpgsql"]).
    sandbox_languages = models.JSONField(default=list, blank=True)
    is_published = models.BooleanField(default=True)

    objects = LessonQuerySet.as_manager()

    class Meta:
        ordering = ["track", "step"]
        constraints = [
            models.UniqueConstraint(fields=["track", "slug"], name="lesson_unique_slug_in_track"),
        ]

    def __str__(self) -> str:
        return f"{self.track.slug}/{self.slug}"

    @property
    def ref(self) -> str:
        """The "<track>/<slug>" name the sandbox API uses."""
        return f"{self.track.slug}/{self.slug}"
