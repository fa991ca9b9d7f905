"""`pgrun cron list`: each item, when it runs next and when it last ran."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from .. import db
from .parse import CronItem, check_unique_ids
from .schedule import next_tick
from .store import last_executions


@dataclass(frozen=True)
class CronListRow:
    id: str
    task: str
    schedule: str
    tz: str
    next_run: datetime  # UTC
    last_execution: datetime | None  # UTC; None if it never ran
    known: bool  # False: no scheduler has registered the item yet


def cron_list(conninfo: str, schema: str, items: Sequence[CronItem],
              now: datetime | None = None) -> list[CronListRow]:
    """One row per item, in crontab order. Reads the database, changes nothing."""
    check_unique_ids(items)
    now = now or datetime.now(timezone.utc)
    with db.connect(conninfo) as conn:
        last = last_executions(conn, schema, [item.id for item in items])
    return [
        CronListRow(
            id=item.id, task=item.task, schedule=item.schedule, tz=item.tz,
            next_run=next_tick(item.expression, item.tz, now),
            last_execution=last.get(item.id), known=item.id in last)
        for item in items
    ]
