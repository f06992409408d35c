"""Accounts, transfers and a job queue, for the Django ORM lab
(content/django/10-transactions.md).

Loaded into the lab's ``lab`` app like library.py: the tables are ``lab_ledgeraccount``,
``lab_ledgertransfer`` and ``lab_queuejob``, made by Django's schema editor with the constraints
and the index below; the data is content/fixtures/ledger_jobs.sql.
"""

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now


class LedgerAccount(models.Model):
    owner = models.CharField(max_length=100)
    balance = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        constraints = [
            # An overdraft is refused by PostgreSQL: the UPDATE fails with IntegrityError.
            models.CheckConstraint(
                condition=Q(balance__gte=0), name="ledgeraccount_balance_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.owner}: {self.balance}"


class LedgerTransfer(models.Model):
    # The caller's idempotency key: a transfer sent twice is refused the second time.
    reference = models.CharField(max_length=20, unique=True)
    source = models.ForeignKey(
        LedgerAccount, on_delete=models.PROTECT, related_name="transfers_out"
    )
    target = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="transfers_in")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    created = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="ledgertransfer_amount_positive"
            ),
        ]

    def __str__(self):
        return f"{self.reference}: {self.amount} from {self.source_id} to {self.target_id}"


class QueueJob(models.Model):
    queue = models.CharField(max_length=20)  # emails, reports, statements
    state = models.CharField(max_length=10, default="queued")  # queued running done failed
    priority = models.IntegerField(default=0)  # 0-9, higher first
    run_after = models.DateTimeField()
    attempts = models.IntegerField(default=0)
    worker = models.CharField(max_length=20, blank=True, default="")  # "" until taken
    # The account a job is about (a statement to send), or NULL.
    account = models.ForeignKey(
        LedgerAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs"
    )

    class Meta:
        indexes = [
            # The queue's "what next?": queued jobs of one queue in the order workers take them.
            models.Index(
                fields=["queue", "-priority", "id"],
                condition=Q(state="queued"),
                name="queuejob_next_idx",
            ),
        ]

    def __str__(self):
        return f"job {self.id} ({self.queue}, {self.state})"
