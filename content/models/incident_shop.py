"""A small shop's orders, for the django track's capstone (content/django/18-*.md).

Loaded into the lab's ``lab`` app like library.py: the tables are ``lab_shopcustomer``,
``lab_shopproduct``, ``lab_shoporder``, ``lab_shoporderline`` and ``lab_shoppayment``; the
data is content/fixtures/incident_shop.sql. The composite index on ``ShopOrder`` is the fix the
lesson's incident ends with: the lab cannot run migrations, so it is here from the start.
The fixture drops and re-adds the four foreign keys by their Django names for a fast load:
renaming a model or a foreign key means updating those names there.
"""

from django.db import models


class ShopCustomer(models.Model):
    name = models.CharField(max_length=100)
    email = models.CharField(max_length=120, unique=True)
    is_wholesale = models.BooleanField(default=False)

    def __str__(self):
        return self.name


class ShopProduct(models.Model):
    sku = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField()
    price = models.DecimalField(max_digits=8, decimal_places=2)

    def __str__(self):
        return self.name


class ShopOrder(models.Model):
    customer = models.ForeignKey(ShopCustomer, on_delete=models.CASCADE, related_name="orders")
    placed_at = models.DateTimeField()
    status = models.CharField(max_length=12)
    shipping_address = models.TextField()
    notes = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["customer", "placed_at"], name="shoporder_customer_placed_idx"),
        ]

    def __str__(self):
        return f"order {self.pk}"


class ShopOrderLine(models.Model):
    order = models.ForeignKey(ShopOrder, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(ShopProduct, on_delete=models.PROTECT, related_name="order_lines")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=8, decimal_places=2)

    def __str__(self):
        return f"{self.quantity} x product {self.product_id} in order {self.order_id}"


class ShopPayment(models.Model):
    order = models.ForeignKey(ShopOrder, on_delete=models.CASCADE, related_name="payments")
    method = models.CharField(max_length=20)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    paid_at = models.DateTimeField()

    def __str__(self):
        return f"{self.amount} by {self.method} for order {self.order_id}"
