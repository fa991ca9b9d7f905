"""Stopping a worker: one path, whatever asked for it (a signal, stop(), --once
finding nothing left, a crashed loop).

`drain`: stop claiming, give the buffer back, let running jobs finish within the
grace period (a second signal ends it), interrupt the rest, record every outcome.
`close` always runs after it: every loop stopped, the worker unregistered, every
connection closed, so an embedded worker that stopped holds nothing and beats no more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from . import db
from .fmt import duration, reason
from .lease import RETRYABLE
from .outcomes import RETURN, Outcome

if TYPE_CHECKING:
    from .worker import Worker

log = logging.getLogger("pgrun.worker")


async def drain(worker: Worker) -> None:
    execution = worker.execution
    running, buffered = len(execution.running), len(execution.buffer)
    worker.events.emit("worker:shutdown", worker.worker_id)
    if running or buffered:
        log.info("worker %s stopping: %d running job(s), %d buffered", worker.worker_id, running, buffered)

    # 1. No more claims: let an in-flight claim land, then give the buffer back.
    fetcher = worker._loops.get("pgrun fetcher")
    if fetcher is not None and not fetcher.done():
        done, _ = await asyncio.wait({fetcher}, timeout=5.0)
        if not done:
            fetcher.cancel()
    for job in execution.give_back_all():
        worker.outcomes.add(Outcome(RETURN, job))

    # 2. Running jobs get the grace period (a second signal ends it).
    if execution.running and not worker._force.is_set():
        log.info("waiting up to %s for %d running job(s) to finish (send the signal again to stop "
                 "at once)", duration(worker._shutdown_timeout), len(execution.running))
        deadline = time.monotonic() + worker._shutdown_timeout
        force = asyncio.create_task(worker._force.wait())
        while execution.running and not force.done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await asyncio.wait({*execution.running.values(), force}, timeout=remaining,
                               return_when=asyncio.FIRST_COMPLETED)
        force.cancel()

    # 3. Whatever still runs is interrupted and failed with a clear message.
    if execution.running:
        log.warning("interrupting %d job(s) still running: %s", len(execution.running),
                    ", ".join(t.get_name() for t in execution.running.values()))
        await asyncio.wait(execution.interrupt_all(), timeout=2.0)

    # 4. Record every outcome (busy rows get a few seconds more).
    worker.outcomes.closing = True
    writer = worker._loops.get("pgrun outcomes")
    if writer is not None:
        worker.outcomes.wake()  # it finishes the batch it is writing, then ends
        done, _ = await asyncio.wait({writer}, timeout=5.0)
        if not done:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
    await worker.outcomes.flush(deadline=time.monotonic() + (1.0 if worker._force.is_set() else 10.0))

async def close(worker: Worker) -> None:
    """Always runs: every loop stopped, the worker unregistered, every connection closed."""
    cron_loop = worker._loops.get("pgrun cron")
    if cron_loop is not None and not cron_loop.done():
        await asyncio.wait({cron_loop}, timeout=5.0)
    for task in worker._loops.values():
        if not task.done():
            task.cancel()
    await asyncio.gather(*worker._loops.values(), return_exceptions=True)
    if worker._pool is not None:
        await _unregister(worker)
    await worker.events.drain()
    await worker.lease.close()
    worker.execution.close()
    if worker._sync_pool is not None:
        await asyncio.to_thread(worker._sync_pool.close, 2.0)
    if worker._handler_pool is not None:
        await worker._handler_pool.close(timeout=2.0)
    if worker._pool is not None:
        await worker._pool.close(timeout=2.0)
    s = worker.stats
    log.info("worker %s stopped%s: %d completed, %d failed%s", worker.worker_id,
             " (forced)" if worker.forced else "", s.completed, s.failed,
             f", {s.given_back} given back" if s.given_back else "")
    worker.events.emit("worker:stop", worker.worker_id, error=worker.error)
    await worker.events.drain()  # async listeners of worker:stop finish before wait() returns

async def _unregister(worker: Worker) -> None:
    for attempt in range(3):
        try:
            async with worker._pool.connection(timeout=5.0) as conn:
                await conn.execute(worker.queries.unregister, (worker.worker_id,))
            return
        except RETRYABLE as error:
            if attempt == 2:
                log.error("could not unregister worker %s (%s); its lease expires on its own",
                          worker.worker_id, reason(error))
                return
            await asyncio.sleep(0.2 * (attempt + 1))
        except db.DatabaseError as error:
            log.error("could not unregister worker %s (%s)", worker.worker_id, reason(error))
            return
