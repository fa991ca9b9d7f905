"""Housekeeping, every few seconds, by whichever worker gets there first: the
SQL function `maintain` takes an advisory lock, so across instances one runs
it and the others return at once. It promotes due jobs of every task, expires
abandoned locks, prunes jobs whose retention ended, forgets reaped workers and
drops unused queue rows, each in bounded batches.

And the jobs table is vacuumed when it holds many dead rows: every claimed job
leaves a dead entry at the head of the claim's index, which later claims step
over until VACUUM clears it, and autovacuum visits a database at most once a
minute. VACUUM cannot run inside a function, so the runner sends it, on a
connection of its own without a statement timeout. One instance at a time:
VACUUM's own lock on the table excludes a second VACUUM, and SKIP_LOCKED makes
that one skip the table at once (no session lock, so this works through a
transaction pooler too). A role that does not own the table is skipped too;
the server says why in a warning, which the log repeats.

While a long transaction pins the xmin horizon, VACUUM can remove nothing that
died since, and the dead rows stay over the threshold: a worker would vacuum
the whole (growing) table every few seconds for nothing, a cost that grew with
the table in bench/bloat.py. So a worker does not vacuum again while the oldest
snapshot or transaction it saw at its last vacuum is still the oldest one; once
the horizon moves, the next round vacuums."""

from __future__ import annotations

import asyncio
import logging
import time

from . import db
from .errors import ConnectionFailed
from .fmt import reason

log = logging.getLogger("pgrun.worker")

RETRYABLE = (*db.CONNECTION_ERRORS, ConnectionFailed)
INTERVAL = 10.0
# dead rows in the jobs table before a worker vacuums it (a second or two of a busy queue):
# claims step over dead index entries at the head of their index until VACUUM clears them
VACUUM_DEAD_ROWS = 10_000


class Maintenance:
    def __init__(self, worker, interval: float = INTERVAL, vacuum_dead_rows: int = VACUUM_DEAD_ROWS) -> None:
        self._worker = worker
        self._interval = interval
        self.vacuum_dead_rows = vacuum_dead_rows
        self.runs = 0
        self.vacuumed_below: str | None = None  # the oldest xmin when this worker last vacuumed

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
            dead = 0
            for task, rows in done:
                if task == "dead job rows":
                    dead = rows or 0
                    continue
                log.info("maintenance: %s %d", task, rows)
                if task == "promoted":
                    worker.nudge()
            if dead < self.vacuum_dead_rows:
                continue
            try:
                horizon = await self._oldest_xmin()
                if horizon is not None and horizon == self.vacuumed_below:
                    log.debug("vacuum held back (%d dead rows): the xmin horizon is still %s", dead, horizon)
                    continue
                await self._vacuum(dead)
                self.vacuumed_below = horizon
            except RETRYABLE as error:
                log.debug("vacuum skipped (%s)", reason(error))
            except db.DatabaseError as error:
                log.warning("vacuum of the jobs table failed (%s)", reason(error))

    async def _oldest_xmin(self) -> str | None:
        async with self._worker.pool.connection(timeout=5.0) as conn:
            row = await (await conn.execute(self._worker.queries.oldest_xmin)).fetchone()
        return None if row is None else row[0]

    async def _vacuum(self, dead: int) -> None:
        worker = self._worker
        conn = await db.connect_async(worker.conninfo, **db.connection_kwargs(
            worker.prepare, conninfo=worker.conninfo, statement_timeout="0", application_name="pgrun vacuum"))
        skipped: list[str] = []   # the server's warnings: "skipping ... lock not available", "... owner"
        conn.add_notice_handler(lambda notice: skipped.append(notice.message_primary or "")
                                if (notice.message_primary or "").startswith("skipping") else None)
        try:
            started = time.monotonic()
            await conn.execute(worker.queries.vacuum_jobs)
            if skipped:
                log.info("vacuum of the jobs table skipped (%d dead rows): %s", dead, skipped[0])
            else:
                log.info("vacuumed the jobs table (%d dead rows) in %.1f s", dead, time.monotonic() - started)
        finally:
            await conn.close()
