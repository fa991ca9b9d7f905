"""Priority aging (SQL set_priority_aging, priority_aging; docs/flow-control.md): off by
default. With a step, a job waiting available for k whole steps runs at its own priority
minus k (at most max_steps), so low-priority work is not starved by a constant stream of
high-priority jobs. Maintenance ages the jobs, every few seconds; the claim is unchanged.

    with WorkerUtils("postgresql://...") as utils:
        utils.set_priority_aging(timedelta(minutes=1), max_steps=10)  # at most 10 better
        utils.priority_aging()            # PriorityAging(step=timedelta(seconds=60), max_steps=10)
        utils.set_priority_aging(None)    # off: aged jobs get their own priority back

WorkerUtils and AsyncWorkerUtils have these methods through the mixins below. A bad step
(under a second) or max_steps (under 1) raises the database's error (SQLSTATE 22023).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

    from .queries import Queries

__all__ = ["AgingMethods", "AsyncAgingMethods", "PriorityAging"]


@dataclass(frozen=True, slots=True)
class PriorityAging:
    """The aging in force: `step` None when it is off; `max_steps` None: no limit."""

    step: timedelta | None
    max_steps: int | None


def _step(step: timedelta | float | None) -> timedelta | None:
    return step if step is None or isinstance(step, timedelta) else timedelta(seconds=step)


class AgingMethods:
    """WorkerUtils' priority-aging methods (it provides `connection` and `_queries`)."""

    connection: psycopg.Connection
    _queries: Queries

    def set_priority_aging(self, step: timedelta | float | None, max_steps: int | None = None) -> None:
        """Ages waiting jobs one priority per `step` (a timedelta or seconds), at most
        `max_steps` (None: no limit); step None turns aging off."""
        self.connection.execute(self._queries.set_priority_aging, (_step(step), max_steps))

    def priority_aging(self) -> PriorityAging:
        return PriorityAging(*self.connection.execute(self._queries.priority_aging).fetchone())


class AsyncAgingMethods:
    """AsyncWorkerUtils' priority-aging methods, awaited."""

    _queries: Queries

    async def connection(self) -> psycopg.AsyncConnection:
        raise NotImplementedError

    async def set_priority_aging(self, step: timedelta | float | None, max_steps: int | None = None) -> None:
        await (await self.connection()).execute(self._queries.set_priority_aging, (_step(step), max_steps))

    async def priority_aging(self) -> PriorityAging:
        cursor = await (await self.connection()).execute(self._queries.priority_aging)
        return PriorityAging(*await cursor.fetchone())
