"""Cancels reach running handlers: while this worker runs jobs it asks the
database every second which of its attempts were cancelled (cancel_requests),
and at once when "<schema>:cancel" names it. The question costs one index page;
an idle worker asks nothing. A notification is only a hint, so a lost one
delays a stop by a second at most."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from . import db
from .errors import ConnectionFailed
from .fmt import reason
from .outcomes import CANCEL_MESSAGE

if TYPE_CHECKING:
    from .worker import Worker

log = logging.getLogger("pgrun.worker")

RETRYABLE = (*db.CONNECTION_ERRORS, ConnectionFailed)
POLL_SECONDS = 1.0


class CancelWatch:
    def __init__(self, worker: Worker, interval: float = POLL_SECONDS) -> None:
        self._worker = worker
        self._interval = interval
        self._wake = asyncio.Event()

    def notified(self) -> None:
        """A cancel named this worker: ask now."""
        self._wake.set()

    async def run(self) -> None:
        worker = self._worker
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self._interval)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            if not worker.execution.running:
                continue
            try:
                async with worker.pool.connection(timeout=5.0) as conn:
                    cursor = await conn.execute(worker.queries.cancel_requests, (worker.worker_id,),
                                                prepare=worker.prepare)
                    requests = await cursor.fetchall()
            except RETRYABLE as error:
                log.debug("asking for cancel requests failed (%s); asking again in %.0f s", reason(error),
                          self._interval)
                continue
            for job_id, lease, why in requests:
                if worker.execution.stop(job_id, CANCEL_MESSAGE, lease):
                    log.info("job %d: cancel asked%s; stopping it", job_id, f" ({why})" if why else "",
                             extra={"job_id": job_id})
