"""The order workflow's tasks: reserve stock, charge the card, notify the customer; and the two
compensations, release (of reserve) and refund (of charge). Each writes what it did to
order_events, so you can watch an order go through (or back out)."""

from __future__ import annotations

from pgrun import PermanentFailure, task

TABLE = """
create table if not exists order_events (
  id bigserial primary key,
  order_id int not null,
  event text not null,
  at timestamptz not null default clock_timestamp()
)
"""


def install(conn) -> None:
    conn.execute(TABLE)


def _log(helpers, order_id: int, event: str) -> None:
    with helpers.connection() as conn:
        conn.execute("insert into order_events (order_id, event) values (%s, %s)", (order_id, event))


@task("inventory.reserve")
def reserve(payload, helpers):
    _log(helpers, payload["order"], f"reserved {payload['sku']}")
    return {"reservation": f"R{payload['order']}"}


@task("payments.charge")
def charge(payload, helpers):
    # a durable step: a retry after the card was charged does not charge it again
    charged = helpers.step("capture", _capture, payload)
    _log(helpers, payload["order"], f"charged {payload['cents']} cents")
    return charged


def _capture(payload):
    if payload["card"] == "declined":
        raise PermanentFailure("card declined")   # no retry: the workflow compensates
    return {"charge": f"C{payload['order']}"}


@task("emails.notify")
def notify(payload, helpers):
    charge = next(iter(helpers.parent_results().values()))   # what charge returned
    _log(helpers, payload["order"], f"notified (charge {charge['charge']})")


@task("payments.refund")
def refund(payload, helpers):
    # payload: {"workflow_id", "step", "payload" (charge's), "result", "outcome"}
    _log(helpers, payload["payload"]["order"], f"refunded ({payload['outcome']} charge)")


@task("inventory.release")
def release(payload, helpers):
    _log(helpers, payload["payload"]["order"], f"released {payload['result']['reservation']}")
