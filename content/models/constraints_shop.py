"""Constraints and defaults in the database, for the Django ORM lab
(content/django/07-constraints-and-defaults-in-the-database.md).

Loaded into the lab's ``lab`` app like library.py: the tables are ``lab_shopper``,
``lab_listing``, ``lab_voucher``, ``lab_basket`` and ``lab_basketline``, with the constraints,
database defaults and generated columns below made by Django's schema editor; the data is
content/fixtures/constraints_shop.sql.

What the lab cannot make, and the lesson shows in prose instead: ``db_default`` with a literal
value and generated columns with a literal in the expression (Django passes the literal as a
parameter, and the lab's DDL helper has no connection to inline it), ``nulls_distinct`` (Django
asks the server's version first) and ``CompositePrimaryKey``. So the defaults here are
``Now()`` and ``RandomUUID()``, the generated columns combine columns only, and the line table
has an id plus a unique constraint where Django 5.2 could use a composite primary key.
"""

from django.contrib.postgres.functions import RandomUUID
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower, Now


class Shopper(models.Model):
    email = models.CharField(max_length=120)
    name = models.CharField(max_length=100)
    public_id = models.UUIDField(db_default=RandomUUID())
    joined = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="shopper_email_lower_uniq"),
        ]

    def __str__(self):
        return self.email


class Listing(models.Model):
    sku = models.CharField(max_length=20)
    title = models.CharField(max_length=100)
    price_cents = models.IntegerField()
    discount_cents = models.IntegerField()
    sale_cents = models.GeneratedField(
        expression=F("price_cents") - F("discount_cents"),
        output_field=models.IntegerField(),
        db_persist=True,
    )
    archived = models.BooleanField()
    listed = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sku"], condition=Q(archived=False), name="listing_live_sku_uniq"
            ),
            models.CheckConstraint(condition=Q(price_cents__gt=0), name="listing_price_positive"),
            models.CheckConstraint(
                condition=Q(discount_cents__gte=0) & Q(discount_cents__lt=F("price_cents")),
                name="listing_discount_below_price",
            ),
        ]
        indexes = [models.Index(fields=["sale_cents"], name="listing_sale_cents_idx")]

    def __str__(self):
        return self.sku


class Voucher(models.Model):
    code = models.CharField(max_length=20)
    shopper = models.ForeignKey(
        Shopper, null=True, on_delete=models.CASCADE, related_name="vouchers"
    )
    percent = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["code", "shopper"], name="voucher_code_shopper_uniq"),
            models.CheckConstraint(
                condition=Q(percent__gte=1, percent__lte=100), name="voucher_percent_range"
            ),
        ]

    def __str__(self):
        return self.code


class Basket(models.Model):
    shopper = models.ForeignKey(Shopper, on_delete=models.CASCADE, related_name="baskets")
    status = models.CharField(max_length=10)
    created = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shopper"], condition=Q(status="open"), name="basket_one_open_per_shopper"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "paid", "cancelled"]), name="basket_status_valid"
            ),
        ]

    def __str__(self):
        return f"basket {self.pk} ({self.status})"


class BasketLine(models.Model):
    basket = models.ForeignKey(Basket, on_delete=models.CASCADE, related_name="lines")
    line_no = models.SmallIntegerField()
    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="lines")
    quantity = models.IntegerField()
    unit_cents = models.IntegerField()
    line_cents = models.GeneratedField(
        expression=F("unit_cents") * F("quantity"),
        output_field=models.IntegerField(),
        db_persist=True,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["basket", "line_no"], name="basketline_basket_line_uniq"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="basketline_quantity_positive"
            ),
        ]

    def __str__(self):
        return f"line {self.line_no} of basket {self.basket_id}"
