"""Starting a worker: the schema checked, its connections opened, the worker registered,
its tasks' retry policies written and its crontab read, before any loop runs. Each step
that needs the database is a round trip or more, so the independent ones go side by side:
the schema check beside the heartbeat's connection, then the pool beside the registration.
The pool opens only once the database answered: it would retry an unreachable one,
loudly, for its whole timeout. On any failure what was opened is closed again, and the
error is the user's to see (the schema's first: it is what they must fix).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from . import db, retry
from .cron.in_worker import scheduler_for
from .cron.scheduler import CronScheduler
from .migrate import migrate

if TYPE_CHECKING:
    from .worker import Worker


async def connect(worker: Worker) -> CronScheduler | None:
    """Opens the worker's pool (worker._pool) and registers its lease; returns the crontab's
    scheduler (None without a crontab)."""
    connecting = asyncio.create_task(worker.lease.connect())
    try:
        if worker._run_migrations:
            await asyncio.to_thread(_migrate, worker.conninfo, worker.schema)
        await connecting
        # every use of the runner's pool retries lost connections: no check query per checkout
        opened = await asyncio.gather(
            db.open_pool(worker.conninfo, max_size=4, min_size=2, name=f"pgrun-{worker.schema}",
                         kwargs=db.connection_kwargs(worker.prepare, conninfo=worker.conninfo), check=False),
            worker.lease.register(), return_exceptions=True)
        if isinstance(opened[0], db.AsyncConnectionPool):
            worker._pool = opened[0]
        for failure in opened:
            if isinstance(failure, BaseException):
                raise failure
        await retry.write_task_policies(worker._pool, worker.queries, worker._tasks)
        return scheduler_for(worker._crontab, worker._pool, worker.schema)
    except BaseException:
        await asyncio.gather(connecting, return_exceptions=True)
        await worker.lease.close()
        if worker._pool is not None:
            await worker._pool.close()
        raise


def _migrate(conninfo: str, schema: str) -> None:
    with db.connect(conninfo) as conn:
        migrate(conn, schema)
