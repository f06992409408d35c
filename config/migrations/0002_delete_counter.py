"""The /metrics counters moved out of the database into prometheus-client (each process
counts in memory; see config/infra/metrics.py), so their table goes. Its counts were totals
since the installation began; Prometheus keeps their history, and counters starting again at
zero are what rate() and increase() expect after any restart."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("config", "0001_initial")]

    operations = [migrations.DeleteModel(name="Counter")]
