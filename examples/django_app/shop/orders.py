"""Placing an order: the order and its confirmation job commit together, or neither does."""

from django.db import transaction

from pgrun.integrations.django import add_job


def place_order(item: str, fail_after: bool = False) -> int:
    with transaction.atomic():
        from shop.models import Order

        order = Order.objects.create(item=item)
        add_job("orders.confirm", {"order_id": order.id})
        if fail_after:
            raise RuntimeError(f"payment for {item} refused")   # rolls back the order and the job
    return order.id
