"""PostgreSQL field types for the Django ORM lab (content/django/05-postgresql-fields.md).

Loaded into the lab's ``lab`` app like library.py, so the tables are ``lab_gadget`` and
``lab_stay``. Uses django.contrib.postgres (installed in the lab's Django) for ArrayField, the
range field and the GIN and GiST indexes; the data is content/fixtures/pgfields.sql.
"""

from django.contrib.postgres.fields import ArrayField, DateRangeField
from django.contrib.postgres.indexes import GinIndex, GistIndex
from django.db import models


class Gadget(models.Model):
    name = models.CharField(max_length=100)
    attributes = models.JSONField(default=dict)
    labels = ArrayField(models.CharField(max_length=30), default=list)

    class Meta:
        indexes = [
            GinIndex(fields=["attributes"], name="gadget_attributes_gin"),
            GinIndex(fields=["labels"], name="gadget_labels_gin"),
        ]

    def __str__(self):
        return self.name


class Stay(models.Model):
    room = models.IntegerField()
    guest = models.CharField(max_length=60)
    during = DateRangeField()

    class Meta:
        indexes = [GistIndex(fields=["during"], name="stay_during_gist")]

    def __str__(self):
        return f"room {self.room}: {self.guest}"
