"""The shop's tasks: plain handlers may use the ORM (each runs in a thread of its own)."""

from django.db import close_old_connections

from pgrun import task


@task("orders.confirm")
def confirm_order(payload, helpers):
    from shop.models import Order

    try:
        Order.objects.filter(id=payload["order_id"]).update(confirmed=True)
    finally:
        close_old_connections()   # the thread's Django connection is not kept across jobs
