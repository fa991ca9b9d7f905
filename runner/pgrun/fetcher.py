"""The claim loop: claim jobs in batches (up to the free slots plus a prefetch)
into the local buffer, and sleep until there may be more.

When to look again, each from the database or a clock of this process only:
- a claim that came back short says, in the database's time, how long until
  the next job of this worker's tasks is due: a timer for then;
- the claim that found this worker idle says `look_again`: jobs added while
  it was busy sent no NOTIFY, so it claims once more before sleeping;
- a NOTIFY (a nudge), then once more a little later (nudges are debounced),
  and twice more after the last nudge of a burst (a late commit);
- a slot freed, an outcome that freed a named queue;
- the poll interval, a safety net (60 s while LISTEN works).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from typing import TYPE_CHECKING

from . import db, payloads
from .backoff import Backoff
from .errors import ConnectionFailed
from .fmt import reason
from .job import Job
from .lease import NO_LEASE, REAPED

if TYPE_CHECKING:
    from .worker import Worker

log = logging.getLogger("pgrun.worker")

RETRYABLE = (*db.CONNECTION_ERRORS, ConnectionFailed)
# Jobs are claimed ahead of free slots only while they are short on average: a
# buffered job waits for a slot, and meanwhile no other worker can run it.
PREFETCH_MAX_AVERAGE_SECONDS = 0.2
DEFAULT_PREFETCH = 30
LISTENING_POLL_INTERVAL = 60.0
# After a nudge, one more look this much later: enqueuers whose transaction
# is younger than 2 ms skip their NOTIFY for 2 ms after another one (see the SQL
# _notify_jobs); this covers their commits.
TRAILING_LOOK = 0.010
# ... and, after the last nudge, these much later: an enqueuer that skipped its
# NOTIFY may commit long after deciding to (a slow fsync, a busy machine, work
# after add_job in its transaction). Each new nudge moves them, so a stream of
# nudges adds no claims; an idle worker makes two more claims per burst.
LATE_LOOKS = (0.100, 1.0)
# A claim that got nothing but was told to look again (jobs held by others at
# that moment) looks again after 5 ms, 10 ms, ... up to 1 s.
LOOK_AGAIN_FIRST, LOOK_AGAIN_LIMIT = 0.005, 1.0
MAX_TIMERS = 1000


def default_prefetch(concurrency: int) -> int:
    """30 ahead for a busy worker, but at most 3 per slot: a worker with few slots
    must not hold 30 jobs behind one that turns out long."""
    return max(concurrency, min(DEFAULT_PREFETCH, 3 * concurrency))


class Fetcher:
    def __init__(self, worker: Worker, *, prefetch: int | None, poll_interval: float, once: bool) -> None:
        self._worker = worker
        concurrency = worker.execution.concurrency
        self._prefetch = default_prefetch(concurrency) if prefetch is None else max(0, prefetch)
        self._poll_interval = poll_interval
        self._once = once
        self.wake = asyncio.Event()
        self._maybe_more = True          # the last claim was full, or something happened since
        self._nudges = 0
        self._trailing_after = 0         # the nudge count that already has its trailing look
        self._look_again_delay = LOOK_AGAIN_FIRST
        self._timers: list[float] = []   # monotonic due times, sorted
        self._late_looks: list[float] = []  # monotonic times of the late looks after the last nudge
        self._next_poll = 0.0
        self._recover = False            # a claim's answer was lost: we may hold jobs we never saw
        self.paused = False              # no claims (the lease is being replaced)
        self.drained = False             # --once: nothing left to run

    # ---------------------------------------------------------------- signals

    def nudge(self) -> None:
        self._maybe_more = True
        self._nudges += 1
        self.wake.set()

    def wake_in(self, seconds: float) -> None:
        """A job becomes due in `seconds` (by the database's clock, or a retry's time)."""
        due = time.monotonic() + max(0.0, seconds)
        if len(self._timers) >= MAX_TIMERS:
            if due >= self._timers[-1]:
                return  # later than every one kept: the safety poll covers it
            self._timers.pop()
        bisect.insort(self._timers, due)
        self.wake.set()  # the loop recomputes how long to sleep

    def slot_freed(self) -> None:
        self.wake.set()

    # ---------------------------------------------------------------- the loop

    async def run(self) -> None:
        worker = self._worker
        execution = worker.execution
        backoff = Backoff()
        conn = None
        try:
            while not worker.stopping:
                self.wake.clear()
                prefetch = self._prefetch if execution.average_duration <= PREFETCH_MAX_AVERAGE_SECONDS else 0
                room = execution.concurrency + prefetch
                # finished jobs whose outcomes wait still hold their attempts: a worker that cannot
                # write them must not go on claiming (it would hold the queue, unrun or run twice).
                # Up to a roomful of them is the normal pipeline of outcome batches; beyond that, each
                # one held takes a place: at most twice the room is ever held.
                want = (room - len(execution.running) - len(execution.buffer)
                        - max(0, worker.outcomes.held - room))
                # refill once a quarter of the prefetch is used: the next batch arrives before
                # the buffer runs dry (at half, a drain of no-op jobs idled while claims ran)
                buffer_low = len(execution.buffer) <= prefetch - prefetch // 4
                if not self.paused and self._maybe_more and want > 0 and buffer_low:
                    idle = not (execution.running or execution.buffer or len(worker.outcomes)
                                or worker.outcomes.writing)
                    try:
                        if not worker.lease.live and not await worker.lease.wait_renewed(5.0):
                            await self._pause(1.0)
                            continue
                        if conn is None:
                            conn = await worker.pool.getconn()
                        if self._recover:
                            await self._give_back_orphans(conn)
                        nudges = self._nudges
                        jobs, due_in, look_again = await self._claim(conn, want)
                    except RETRYABLE as error:
                        self._recover = True
                        conn = await _drop(worker.pool, conn)
                        delay = backoff.next()
                        log.warning("claiming jobs failed (%s); retrying in %.1f s", reason(error), delay)
                        await self._pause(delay)
                        continue
                    except db.DatabaseError as error:
                        if db.sqlstate(error) == NO_LEASE:
                            log.warning("claim refused: %s; renewing the lease first", reason(error))
                            await worker.lease.wait_renewed(5.0)
                            continue
                        if db.sqlstate(error) == REAPED:
                            await worker.lease_lost(reason(error))
                            continue
                        raise
                    backoff.reset()
                    if jobs:
                        execution.take(jobs)
                    if len(jobs) < want:
                        self._after_short_claim(due_in, look_again, nudges, got=len(jobs))
                        if self._once and not look_again:
                            if idle and not jobs:
                                self.drained = True
                                break  # nothing ran, nothing is left: the queue is drained for us
                            await self._until_idle()
                            await worker.outcomes.flush()
                            self._maybe_more = True
                    continue
                timeout = None if self._maybe_more and not self.paused else max(
                    0.0, self._next_wake() - time.monotonic())
                try:
                    await asyncio.wait_for(self.wake.wait(), timeout)
                except asyncio.TimeoutError:
                    self._maybe_more = True
                    self._drop_past_timers()
        finally:
            await _drop(worker.pool, conn)

    def _after_short_claim(self, due_in: float | None, look_again: bool, nudges: int, got: int) -> None:
        if due_in is not None:
            self.wake_in(due_in)
        if look_again:
            if got or self._nudges != nudges:
                self._look_again_delay = LOOK_AGAIN_FIRST
                self._maybe_more = True
            else:  # others hold what is left: look again soon, then less and less often
                self._maybe_more = False
                self.wake_in(self._look_again_delay)
                self._look_again_delay = min(self._look_again_delay * 2, LOOK_AGAIN_LIMIT)
            return
        self._look_again_delay = LOOK_AGAIN_FIRST
        # a nudge that came during the claim may be about a job it missed
        self._maybe_more = self._nudges != nudges
        if self._nudges > self._trailing_after:
            self._trailing_after = self._nudges
            self.wake_in(TRAILING_LOOK)
            now = time.monotonic()
            self._late_looks = [now + delay for delay in LATE_LOOKS]   # replaced, never added to
        self._next_poll = time.monotonic() + self._current_poll_interval()

    def _current_poll_interval(self) -> float:
        if self._worker.listening:
            return max(self._poll_interval, LISTENING_POLL_INTERVAL)
        return self._poll_interval

    def _next_wake(self) -> float:
        return min([self._next_poll, *self._timers[:1], *self._late_looks[:1]])

    def _drop_past_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0] <= now:
            self._timers.pop(0)
        while self._late_looks and self._late_looks[0] <= now:
            self._late_looks.pop(0)

    async def _claim(self, conn, want: int) -> tuple[list[Job], float | None, bool]:
        worker = self._worker
        params = (worker.worker_id, want, worker.task_ids, worker.forbidden_flags)
        cursor = await conn.execute(worker.queries.claim, params, prepare=worker.prepare)
        jobs: list[Job] = []
        due_in, look_again = None, False
        worker_id = worker.worker_id
        rows = await cursor.fetchall()
        if rows and rows[-1][0] is None:
            due_in, look_again = rows[-1][15], bool(rows[-1][16])
            rows.pop()
        if not rows:
            return jobs, due_in, look_again
        decoded = payloads.decode_all([row[3] for row in rows])
        for row, payload in zip(rows, decoded, strict=True):
            (job_id, queue_name, task, _, priority, run_at, attempts, max_attempts, last_error,
             created_at, key, locked_at, revision, flags, lease, _, _, timeout, meta) = row
            if meta is not None:
                meta = payloads.decode_all([meta])[0]
                if isinstance(meta, payloads.Unreadable):   # the job fails for it (execution.py)
                    payload, meta = payloads.Unreadable(f"its meta: {meta.reason}"), None
            jobs.append(Job(job_id, queue_name, task, payload, priority, run_at, attempts, max_attempts,
                            last_error, created_at, locked_at, key, locked_at, worker_id, revision,
                            None if flags is None else payloads.decode_all([flags])[0], "running", lease,
                            timeout, meta))
        return jobs, due_in, look_again

    async def _give_back_orphans(self, conn) -> None:
        """After a claim whose answer was lost: attempts held under our id that we never saw go back."""
        worker = self._worker
        known = worker.execution.known_attempts() | worker.outcomes.known_attempts()
        cursor = await conn.execute(worker.queries.held_attempts, (worker.worker_id,))
        orphans = [(job_id, lease) for job_id, lease in await cursor.fetchall() if job_id not in known]
        answers: dict[str, list[int]] = {}
        if orphans:
            ids = [job_id for job_id, _ in orphans]
            leases = [lease for _, lease in orphans]
            cursor = await conn.execute(worker.queries.give_back, (worker.worker_id, ids, leases))
            for job_id, answer in await cursor.fetchall():
                answers.setdefault(answer, []).append(job_id)
        for answer in ("returned", "cancelled"):
            if answers.get(answer):
                log.warning("gave back %d job(s) claimed by a query whose answer was lost (%s): %s",
                            len(answers[answer]), answer, ", ".join(map(str, answers[answer])))
        # a row another session locks is answered busy: give it back before the next claim
        self._recover = bool(answers.get("busy"))

    async def _pause(self, seconds: float) -> None:
        """Sleeps, unless a stop comes first."""
        try:
            await asyncio.wait_for(self._worker.stop_requested.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    async def _until_idle(self) -> None:
        execution = self._worker.execution
        while (execution.running or execution.buffer) and not self._worker.stopping:
            self.wake.clear()
            await self.wake.wait()


async def _drop(pool, conn):
    if conn is not None:
        try:
            await pool.putconn(conn)
        except Exception:
            pass
    return None
