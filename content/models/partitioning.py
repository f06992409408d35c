"""A partitioned table under a Django model, for the Django ORM lab
(content/django/16-partitioning-a-large-table.md).

Loaded into the lab's ``lab`` app like library.py. ``Meter`` is an ordinary table
(``lab_meter``). ``Reading`` sits on ``lab_reading``, a table PARTITIONED BY RANGE (taken_at)
with one partition per month and a default partition: Django's schema editor cannot make such a
table, so the model is ``managed = False`` and content/fixtures/partitioning.sql creates it (in
a project, a ``RunSQL`` migration does). The table's primary key is (id, taken_at), because a
primary key of a partitioned table must include the partition key; the model keeps ``id`` as
its primary key, which the sequence keeps unique in practice.
"""

from django.db import models


class Meter(models.Model):
    serial = models.CharField(max_length=12, unique=True)
    city = models.CharField(max_length=40)

    def __str__(self):
        return self.serial


class Reading(models.Model):
    meter = models.ForeignKey(Meter, on_delete=models.CASCADE, related_name="readings")
    taken_at = models.DateTimeField()
    kwh = models.DecimalField(max_digits=8, decimal_places=3)

    class Meta:
        managed = False

    def __str__(self):
        return f"{self.meter_id} at {self.taken_at:%Y-%m-%d %H:%M}: {self.kwh} kWh"
