"""Places two orders as workflows, one paid and one with a declined card, runs a worker until
nothing is left to do, and prints what happened to each.

    DATABASE_URL=postgresql://localhost/shop python run_orders.py
"""

from __future__ import annotations

import os
import sys

import order_tasks
import psycopg

import pgrun
from pgrun.workflows import Workflow, get_workflow, start_workflow, workflow_steps


def order(number: int, card: str) -> Workflow:
    return (Workflow("order")
            .step("reserve", "inventory.reserve", {"order": number, "sku": "BOOK-1"},
                  compensate="inventory.release")
            .step("charge", "payments.charge", {"order": number, "cents": 1200, "card": card},
                  depends_on=["reserve"], compensate="payments.refund")
            .step("notify", "emails.notify", {"order": number}, depends_on=["charge"]))


def main(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        pgrun.migrate(conn)
        order_tasks.install(conn)
        placed = {1: start_workflow(conn, order(1, "ok")), 2: start_workflow(conn, order(2, "declined"))}

    pgrun.run_once(order_tasks, connection=dsn, concurrency=4)

    with psycopg.connect(dsn, autocommit=True) as conn:
        for number, workflow_id in placed.items():
            info = get_workflow(conn, workflow_id)
            print(f"order {number}: workflow {workflow_id} {info.state}"
                  + (f" ({info.reason})" if info.reason else ""))
            for step in workflow_steps(conn, workflow_id):
                print(f"  {step.name}: {step.state}")
            for (event,) in conn.execute("select event from order_events where order_id = %s order by id",
                                         (number,)):
                print(f"  - {event}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("DATABASE_URL", ""))
