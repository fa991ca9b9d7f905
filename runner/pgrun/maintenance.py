"""Housekeeping, every few seconds, by whichever worker gets there first: the
SQL function `maintain` takes an advisory lock, so across instances one runs
it and the others return at once. It promotes due jobs of every task, expires
abandoned locks, prunes jobs whose retention ended, forgets reaped workers and
drops unused queue rows, each in bounded batches."""

from __future__ import annotations

import asyncio
import logging

from . import db
from .errors import ConnectionFailed
from .fmt import reason

log = logging.getLogger("pgrun.worker")

RETRYABLE = (*db.CONNECTION_ERRORS, ConnectionFailed)
INTERVAL = 10.0


class Maintenance:
    def __init__(self, worker, interval: float = INTERVAL) -> None:
        self._worker = worker
        self._interval = interval
        self.runs = 0

    async def run(self) -> None:
        worker = self._worker
        while True:
            try:
                await asyncio.wait_for(worker.stop_requested.wait(), self._interval)
                return
            except asyncio.TimeoutError:
                pass
            try:
                async with worker.pool.connection(timeout=5.0) as conn:
                    cursor = await conn.execute(worker.queries.maintain, prepare=worker.prepare)
                    done = await cursor.fetchall()
                self.runs += 1
            except RETRYABLE as error:
                log.debug("maintenance skipped (%s)", reason(error))
                continue
            except db.DatabaseError as error:
                log.error("maintenance failed (%s); trying again in %.0f s", reason(error), self._interval)
                continue
            for task, rows in done:
                log.info("maintenance: %s %d", task, rows)
                if task == "promoted":
                    worker.nudge()
