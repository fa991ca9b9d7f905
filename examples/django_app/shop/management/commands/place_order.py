from django.core.management.base import BaseCommand, CommandError

from shop.orders import place_order


class Command(BaseCommand):
    help = "Places an order (and enqueues its confirmation in the same transaction)."

    def add_arguments(self, parser):
        parser.add_argument("item")
        parser.add_argument("--fail", action="store_true", help="fail after enqueueing: nothing is kept")

    def handle(self, *args, **options):
        try:
            order_id = place_order(options["item"], fail_after=options["fail"])
        except RuntimeError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"order {order_id} placed")
