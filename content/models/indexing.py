"""Indexes declared in Meta, for the Django ORM lab (content/django/06-indexes-from-meta.md).

Loaded into the lab's ``lab`` app like library.py: the table is ``lab_member``, with the three
indexes below made by Django's schema editor; the data is content/fixtures/indexing.sql.
"""

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


class Member(models.Model):
    email = models.CharField(max_length=120)
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=10)
    joined = models.DateField()
    points = models.IntegerField()

    class Meta:
        indexes = [
            models.Index(Lower("email"), name="member_email_lower_idx"),
            models.Index(
                fields=["joined"], condition=Q(status="active"), name="member_active_joined_idx"
            ),
            models.Index(fields=["points"], include=["name"], name="member_points_cover_idx"),
        ]

    def __str__(self):
        return self.email
