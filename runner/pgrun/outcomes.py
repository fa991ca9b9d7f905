"""Writing what became of each attempt: completions, failures and give-backs,
in batches (one round trip for everything that finished within a few
milliseconds), each presenting the lease of the claim that holds the attempt.

Nothing here waits on a row another transaction holds: the database answers
such an attempt 'busy' and it is sent again a little later, while the rest of
the batch goes through. An outcome the database refuses for any other reason
is written alone, then with its error text or result stripped, so a poison
message can neither stop the writer nor come back on every attempt.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime

from . import db
from .backoff import Backoff
from .errors import ConnectionFailed, JobStopped
from .fmt import duration, ms, reason
from .job import Job
from .logs import job_fields
from .text import summary

log = logging.getLogger("pgrun.worker")

RETRYABLE = (*db.CONNECTION_ERRORS, ConnectionFailed)
COMPLETE, FAIL, RETURN, SNOOZE = "complete", "fail", "return", "snooze"
CANCEL_MESSAGE = "stopped by its cancel"   # what an attempt stopped by its cancel records
# a busy row is tried again after 0.1 s, 0.2 s, ... up to this
BUSY_RETRY_LIMIT = 5.0


@dataclass(slots=True)
class Outcome:
    kind: str                        # COMPLETE, FAIL, RETURN or SNOOZE
    job: Job
    duration: float = 0.0            # seconds the handler ran
    message: str | None = None       # FAIL: the error text to store
    error: BaseException | None = None
    result: str | None = None        # COMPLETE: the handler's return value as JSON text
    interrupted: bool = False        # FAIL: the worker stopped the handler (shutdown)
    permanent: bool = False          # FAIL: for good, whatever attempts are left (PermanentFailure)
    delay: float = 0.0               # SNOOZE: seconds until it runs again
    pause_key: str | None = None     # SNOOZE by RateLimited: the key paused as long, for every worker
    retry_delay: float | None = None  # FAIL: seconds until the retry, by a custom policy (else SQL's)
    retried: bool = False            # a write of it was lost with its connection
    busy_tries: int = 0
    not_before: float = 0.0          # monotonic time before which it is not sent again


class Outcomes:
    def __init__(self, worker, *, flush_delay: float, batch: int) -> None:
        self._worker = worker
        self._flush_delay = flush_delay
        self._batch = batch
        self._pending: list[Outcome] = []
        # outcomes out of the pending list for their round trip: still this worker's attempts
        self._in_flight: list[Outcome] = []
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self.closing = False

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def held(self) -> int:
        """Attempts still held in the database for outcomes not yet written (pending or in flight)."""
        return len(self._pending) + len(self._in_flight)

    @property
    def writing(self) -> bool:
        return self._lock.locked()

    def add(self, outcome: Outcome) -> None:
        self._pending.append(outcome)
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def known_attempts(self) -> set[int]:
        """Jobs whose outcome is to be written or being written (never orphans to give back)."""
        return {o.job.id for o in self._pending} | {o.job.id for o in self._in_flight}

    def discard(self) -> int:
        """Forgets every pending outcome (the lease they belong to is gone)."""
        count, self._pending = len(self._pending), []
        return count

    async def run(self) -> None:
        conn: db.AsyncConnection | None = None
        pool = self._worker.pool
        try:
            while not self.closing:
                await self._wake.wait()
                if self.closing:
                    break
                if len(self._pending) < self._batch:
                    await asyncio.sleep(self._flush_delay)
                self._wake.clear()
                try:
                    if conn is None:
                        conn = await pool.getconn()
                    wait = await self.flush(conn)
                except RETRYABLE:
                    conn = await _drop(pool, conn)
                    wait = 0.5
                except Exception as error:  # never let the writer die: say it, go on
                    log.critical("writing job outcomes failed unexpectedly; trying again", exc_info=error)
                    conn = await _drop(pool, conn)
                    wait = 1.0
                if wait is not None:
                    asyncio.get_running_loop().call_later(wait, self._wake.set)
        finally:
            await _drop(pool, conn)

    async def flush(self, conn=None, deadline: float | None = None) -> float | None:
        """Writes what is due; returns in how many seconds the rest (busy rows) is due, or None."""
        async with self._lock:
            if conn is not None:
                return await self._write_due(conn)
            backoff = Backoff(0.1, 2.0)
            while self._pending:
                try:
                    async with self._worker.pool.connection(timeout=5.0) as own:
                        wait = await self._write_due(own)
                except RETRYABLE as error:
                    wait = backoff.next()
                    log.warning("recording job outcomes failed (%s); retrying in %.1f s", reason(error), wait)
                if wait is None:
                    return None
                if deadline is not None and time.monotonic() + wait > deadline:
                    log.error("could not record %d job outcome(s) in time; those jobs stay running until a "
                              "live worker releases them after this one unregisters, and may run again",
                              len(self._pending))
                    return None
                await asyncio.sleep(wait)
            return None

    async def _write_due(self, conn) -> float | None:
        now = time.monotonic()
        due = [o for o in self._pending if o.not_before <= now]
        self._pending = [o for o in self._pending if o.not_before > now]
        self._in_flight = list(due)
        try:
            for kind in (COMPLETE, FAIL, RETURN, SNOOZE):
                batch = [o for o in due if o.kind == kind]
                if batch:
                    due = [o for o in due if o.kind != kind]
                    await self._write(conn, kind, batch)
        except BaseException:
            for outcome in due:
                outcome.retried = True
            self._pending[:0] = due
            raise
        finally:
            self._in_flight = []
        if not self._pending:
            return None
        return max(0.0, min(o.not_before for o in self._pending) - time.monotonic())

    async def _write(self, conn, kind: str, batch: list[Outcome]) -> None:
        try:
            rows = await self._send(conn, kind, batch)
        except (*RETRYABLE, asyncio.CancelledError):
            self._put_back(batch)
            raise
        except db.DatabaseError as error:
            try:
                rows = await self._isolate(conn, kind, batch, error)
            except (*RETRYABLE, asyncio.CancelledError):
                self._put_back(batch)   # written alone or not: the next answers say which
                raise
        self._settle(kind, batch, rows)

    def _put_back(self, batch: list[Outcome]) -> None:
        for outcome in batch:
            outcome.retried = True  # it may have been written: the next answer may be 'lost'
        self._pending[:0] = batch

    async def _send(self, conn, kind: str, batch: list[Outcome]) -> dict[int, tuple]:
        q, worker_id, prepare = self._worker.queries, self._worker.worker_id, self._worker.prepare
        ids = db.bigint_array([o.job.id for o in batch])
        leases = db.bigint_array([o.job.lease for o in batch])
        if kind == COMPLETE:
            results = [o.result for o in batch]
            if all(r is None for r in results):
                results = None
            cursor = await conn.execute(q.complete, (worker_id, ids, leases, results), prepare=prepare)
        elif kind == FAIL:
            messages = [o.message for o in batch]
            # some attempt fails for good (a PermanentFailure), or its task's policy is decided here
            if any(o.permanent or o.retry_delay is not None for o in batch):
                delays = [None if o.retry_delay is None else f"{o.retry_delay:.6f} s" for o in batch]
                cursor = await conn.execute(q.fail_permanent, (worker_id, ids, leases, messages,
                                                               [o.permanent for o in batch], delays),
                                            prepare=prepare)
            else:
                cursor = await conn.execute(q.fail, (worker_id, ids, leases, messages), prepare=prepare)
        elif kind == SNOOZE:
            # RateLimited: its key is paused first, so no worker starts another of its jobs
            # between this job's snooze and the pause
            for o in batch:
                if o.pause_key is not None:
                    await conn.execute(q.pause_limit_key, (o.pause_key, f"{o.delay:.6f} s"), prepare=prepare)
            delays = [f"{o.delay:.6f} s" for o in batch]
            cursor = await conn.execute(q.snooze, (worker_id, ids, leases, delays), prepare=prepare)
        else:
            cursor = await conn.execute(q.give_back, (worker_id, ids, leases), prepare=prepare)
        return {row[0]: row for row in await cursor.fetchall()}

    async def _isolate(self, conn, kind: str, batch: list[Outcome], error: BaseException) -> dict[int, tuple]:
        """The database refused the batch: write each alone, and strip what it refuses."""
        log.error("the database refused %d job outcome(s) (%s); writing them one by one", len(batch),
                  reason(error))
        rows: dict[int, tuple] = {}
        for outcome in batch:
            for attempt in range(2):
                try:
                    rows.update(await self._send(conn, kind, [outcome]))
                    break
                except RETRYABLE:
                    raise
                except db.DatabaseError as refused:
                    if attempt == 1:
                        log.critical("job %d (%s): its outcome cannot be recorded (%s); the job is released "
                                     "after this worker unregisters and may run again", outcome.job.id,
                                     outcome.job.task_identifier, reason(refused))
                        break
                    outcome.message = f"the error of this attempt could not be stored: {reason(refused)}"
                    outcome.result = None
        return rows

    def _settle(self, kind: str, batch: list[Outcome], rows: dict[int, tuple]) -> None:
        settled = {id(o) for o in batch}
        self._in_flight = [o for o in self._in_flight if id(o) not in settled]
        returned = [o.job.id for o in batch
                    if kind == RETURN and rows.get(o.job.id, ("", ""))[1] == "returned"]
        if returned:
            log.info("gave back %d unstarted job(s): %s", len(returned), ", ".join(map(str, returned)))
        for outcome in batch:
            row = rows.get(outcome.job.id)
            answer = row[1] if row else "lost"
            if answer == "busy":
                self._retry_busy(outcome)
            elif kind == COMPLETE:
                self._report_completed(outcome, answer)
            elif kind == FAIL:
                self._report_failed(outcome, answer, row)
            elif kind == SNOOZE:
                self._report_snoozed(outcome, answer, row)
            elif answer == "returned":
                self._worker.stats.given_back += 1
            elif answer == "cancelled":
                self._report_cancelled(outcome, "was given back unstarted")
        if any(o.job.queue_name is not None for o in batch):
            self._worker.nudge()  # the queue's next job may be runnable now
        else:
            self._worker.slot_freed()  # the claim loop counts unwritten outcomes against its room

    def _retry_busy(self, outcome: Outcome) -> None:
        outcome.busy_tries += 1
        wait = min(0.1 * 2 ** (outcome.busy_tries - 1), BUSY_RETRY_LIMIT)
        outcome.not_before = time.monotonic() + wait
        if outcome.busy_tries in (3, 10) or outcome.busy_tries % 50 == 0:
            log.warning("job %d (%s): another transaction holds its row; its outcome is sent again in %s "
                        "(try %d)", outcome.job.id, outcome.job.task_identifier, duration(wait),
                        outcome.busy_tries, extra=job_fields(outcome.job))
        self._pending.append(outcome)

    def _report_cancelled(self, outcome: Outcome, how: str) -> None:
        job = outcome.job
        self._worker.stats.cancelled += 1
        if isinstance(outcome.error, JobStopped) and outcome.message == CANCEL_MESSAGE:
            log.info("job %d (%s) stopped by its cancel after %s on attempt %d/%d: it ends cancelled",
                     job.id, job.task_identifier, ms(outcome.duration), job.attempts, job.max_attempts,
                     extra=job_fields(job))
            return
        log.warning("job %d (%s) %s on attempt %d/%d, but it was cancelled meanwhile: it ends cancelled",
                    job.id, job.task_identifier, how, job.attempts, job.max_attempts, extra=job_fields(job))

    def _report_completed(self, outcome: Outcome, answer: str) -> None:
        job, stats = outcome.job, self._worker.stats
        if answer == "cancelled":
            self._report_cancelled(outcome, f"completed in {ms(outcome.duration)}")
        elif answer == "completed":
            stats.completed += 1
            if log.isEnabledFor(logging.INFO):
                log.info("job %d (%s) completed on attempt %d/%d in %s", job.id, job.task_identifier,
                         job.attempts, job.max_attempts, ms(outcome.duration), extra=job_fields(job))
        elif outcome.retried:
            stats.completed += 1
            log.warning("job %d (%s) completed on attempt %d/%d in %s; the write was retried after a lost "
                        "connection and could not be confirmed", job.id, job.task_identifier, job.attempts,
                        job.max_attempts, ms(outcome.duration), extra=job_fields(job))
        else:
            stats.lost += 1
            log.warning("job %d (%s) finished in %s but its attempt %d was no longer this worker's (released "
                        "after missed heartbeats, or force-unlocked); it may run again", job.id,
                        job.task_identifier, ms(outcome.duration), job.attempts, extra=job_fields(job))

    def _report_failed(self, outcome: Outcome, answer: str, row: tuple | None) -> None:
        job, stats = outcome.job, self._worker.stats
        if answer == "cancelled":
            self._report_cancelled(outcome, f"failed after {ms(outcome.duration)}")
            return
        stats.failed += 1
        exc_info = outcome.error if outcome.error is not None and not outcome.interrupted else None
        text = summary(outcome.message or "")
        if answer in ("lost", "busy") or row is None:
            log.warning("job %d (%s) failed on attempt %d/%d after %s but the attempt was no longer this "
                        "worker's: %s", job.id, job.task_identifier, job.attempts, job.max_attempts,
                        ms(outcome.duration), text, exc_info=exc_info, extra=job_fields(job))
            return
        _, _, run_at, attempts, max_attempts = row
        if answer == "failed":
            stats.permanently_failed += 1
            log.error("job %d (%s) failed permanently on attempt %d/%d after %s: %s", job.id,
                      job.task_identifier, attempts, max_attempts, ms(outcome.duration), text,
                      exc_info=exc_info, extra=job_fields(job))
            events = self._worker.events
            if events._listeners:
                events.emit("job:dead", self._worker.worker_id, job=job, duration=outcome.duration,
                            error=outcome.error, data={"message": outcome.message, "attempts": attempts,
                                                       "max_attempts": max_attempts})
        else:
            wait = (run_at - datetime.now(run_at.tzinfo)).total_seconds()
            self._worker.wake_in(wait)
            log.warning("job %d (%s) failed on attempt %d/%d after %s; retrying in %s (at %s): %s", job.id,
                        job.task_identifier, attempts, max_attempts, ms(outcome.duration), duration(wait),
                        run_at.astimezone().isoformat(timespec="seconds"), text, exc_info=exc_info,
                        extra=job_fields(job))

    def _report_snoozed(self, outcome: Outcome, answer: str, row: tuple | None) -> None:
        job = outcome.job
        if answer == "cancelled":
            self._report_cancelled(outcome, f"snoozed after {ms(outcome.duration)}")
        elif answer in ("scheduled", "available") and row is not None:
            self._worker.stats.snoozed += 1
            run_at = row[2]
            wait = (run_at - datetime.now(run_at.tzinfo)).total_seconds()
            self._worker.wake_in(wait)
            log.info("job %d (%s) snoozed after %s on attempt %d/%d; it runs again in %s (its attempt is not "
                     "counted)", job.id, job.task_identifier, ms(outcome.duration), job.attempts,
                     job.max_attempts, duration(wait), extra=job_fields(job))
        else:
            self._worker.stats.lost += 1
            log.warning("job %d (%s) snoozed after %s but its attempt %d was no longer this worker's; it may "
                        "run again", job.id, job.task_identifier, ms(outcome.duration), job.attempts,
                        extra=job_fields(job))



async def _drop(pool, conn):
    if conn is not None:
        try:
            await pool.putconn(conn)
        except Exception:
            pass
    return None
