"""The asyncio core of the runner.

One worker is a handful of loops on one event loop:

- the fetcher claims jobs in batches (`get_jobs`, up to the free slots plus a
  prefetch) into a local buffer and starts them while slots are free; it claims
  again when a slot frees or the buffer runs low, and otherwise waits for a nudge
  (NOTIFY, a freed named queue) or the poll interval;
- the listener holds one LISTEN connection outside the pool and turns each
  notification into a nudge (or a timer); it reconnects with backoff;
- the flusher writes completions and failures in batches: one round trip for
  everything that finished within a few milliseconds;
- the heartbeat registers the worker, beats every few seconds and releases the
  jobs of workers whose beats stopped (`release_dead_workers`), on a connection
  of its own: handlers holding every pooled connection cannot hold up a beat;
- the cron scheduler, when a crontab is given.

Plain handlers run in a thread pool sized to the concurrency; async ones run on
the loop. A job's outcome is only ever queued for the flusher by the task that
ran it, with no await in between, so a cancellation cannot lose it.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import concurrent.futures.thread
import logging
import os
import random
import secrets
import socket
import threading
import time
import traceback
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from . import cron, db, queries
from .errors import ConfigurationError, ConnectionFailed, JobInterrupted, PgrunError
from .events import Events
from .helpers import Helpers, SyncHelpers
from .job import Job
from .migrate import migrate
from .tasks import TaskDef

log = logging.getLogger("pgrun.worker")

SHUTDOWN_MESSAGE = JobInterrupted.__doc__
RETRYABLE = (*db.CONNECTION_ERRORS, ConnectionFailed)
# Jobs are claimed ahead of free slots only while they are short on average: a
# buffered job waits for a slot, and meanwhile no other worker can run it.
PREFETCH_MAX_AVERAGE_SECONDS = 0.2
# Claiming costs a round trip plus a little per job: batches of ~30 make it cheap per job.
DEFAULT_PREFETCH = 30


def default_prefetch(concurrency: int) -> int:
    """30 ahead for a busy worker, but at most 3 per slot: a worker with few slots
    must not hold 30 jobs behind one that turns out long."""
    return max(concurrency, min(DEFAULT_PREFETCH, 3 * concurrency))
# While LISTEN works, every job due now arrives as a nudge and every job due later
# as a time to wake (NOTIFY payload, or the retry time of a failure seen here), so
# polling is only a safety net for what no notification announces (an expired
# 4-hour lock, a retry scheduled by another worker that then died).
LISTENING_POLL_INTERVAL = 60.0
# The LISTEN connection is checked with a query after this much silence; TCP
# keepalives notice a dead peer in between (on the heartbeat's connection too).
LISTEN_CHECK_SECONDS = 60.0
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}
# Wake-up times remembered at once (the earliest ones); beyond that the safety poll covers.
MAX_TIMERS = 1000
TIMER_SECOND_LOOK = 1.0


@dataclass
class WorkerStats:
    completed: int = 0
    failed: int = 0              # failed attempts, the permanent ones included
    permanently_failed: int = 0
    interrupted: int = 0         # failed because the worker shut down under them
    given_back: int = 0          # claimed, never started, returned at shutdown


class _Backoff:
    """0.25 s, 0.5 s, 1 s ... up to `limit`, with a little jitter."""

    def __init__(self, first: float = 0.25, limit: float = 10.0) -> None:
        self.first, self.limit, self.delay = first, limit, first

    def next(self) -> float:
        delay = self.delay
        self.delay = min(self.delay * 2, self.limit)
        return delay * random.uniform(0.8, 1.2)

    def reset(self) -> None:
        self.delay = self.first


class _Lease:
    """A pool connection held across calls (no pool check per statement); dropped on error."""

    def __init__(self, pool: db.AsyncConnectionPool) -> None:
        self._pool = pool
        self._conn = None

    async def get(self):
        if self._conn is None:
            self._conn = await self._pool.getconn()
        return self._conn

    async def drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await self._pool.putconn(conn)
            except Exception:  # the pool closing under us; nothing to keep
                pass


def make_worker_id() -> str:
    host = socket.gethostname().split(".")[0][:40] or "host"
    return f"pgrun-{host}-{os.getpid()}-{secrets.token_hex(3)}"


class Worker:
    """One worker. `await worker.start()`, then `await worker.wait()`; `request_stop()` from
    anywhere on the loop (a signal handler) or `await worker.stop()`."""

    def __init__(
        self,
        tasks: Mapping[str, TaskDef],
        *,
        conninfo: str = "",
        schema: str = "pgrun",
        concurrency: int = 10,
        poll_interval: float = 2.0,
        once: bool = False,
        prefetch: int | None = None,
        prepared_statements: bool = True,
        shutdown_timeout: float = 10.0,
        crontab: str | os.PathLike | None = None,
        events: Events | None = None,
        forbidden_flags: list[str] | None = None,
        worker_id: str | None = None,
        run_migrations: bool = True,
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: float = 20.0,
        flush_delay: float = 0.002,
    ) -> None:
        if not tasks:
            raise ConfigurationError("a worker needs at least one task")
        if concurrency < 1:
            raise ConfigurationError(f"concurrency must be at least 1 (got {concurrency})")
        if poll_interval <= 0:
            raise ConfigurationError(f"poll interval must be positive (got {poll_interval})")
        if shutdown_timeout < 0:
            raise ConfigurationError(f"shutdown timeout must not be negative (got {shutdown_timeout})")
        self.worker_id = worker_id or make_worker_id()
        if len(self.worker_id) < 10:
            raise ConfigurationError("worker_id must be at least 10 characters")
        self.schema = schema
        self.events = events or Events()
        self._q = queries.for_schema(schema)
        self._tasks = dict(tasks)
        self._task_ids = sorted(self._tasks)
        self._conninfo = conninfo
        self._concurrency = concurrency
        self._prefetch = default_prefetch(concurrency) if prefetch is None else max(0, prefetch)
        self._poll_interval = poll_interval
        self._once = once
        self._prepare = bool(prepared_statements)
        self._shutdown_timeout = shutdown_timeout
        self._crontab = crontab
        self._forbidden_flags = forbidden_flags
        self._run_migrations = run_migrations
        self._heartbeat_interval = heartbeat_interval
        self._heartbeat_timeout = timedelta(seconds=heartbeat_timeout)
        self._flush_delay = flush_delay
        self._flush_batch = max(concurrency, 1)
        self.stats = WorkerStats()

        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: db.AsyncConnectionPool | None = None
        self._sync_pool: db.ConnectionPool | None = None
        self._sync_pool_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._threads_busy: set[int] = set()

        self._buffer: collections.deque[Job] = collections.deque()
        self._running: dict[int, asyncio.Task] = {}
        self._reclaimed: dict[int, Job] = {}   # running here, released, claimed again: the newer claim
        self._completed: list[tuple[Job, float, bool]] = []            # job, duration, retried
        self._failures: list[tuple[Job, float, str, BaseException | None, bool]] = []
        self._flush_lock = asyncio.Lock()
        self._wake = asyncio.Event()           # the fetcher's doorbell
        self._flush_wake = asyncio.Event()     # the flusher's doorbell
        self._maybe_more = True                # the last claim was full, or a nudge came since
        self._nudges = 0
        self._listening = asyncio.Event()
        self._listen_conn: db.AsyncConnection | None = None
        self._beat_conn: db.AsyncConnection | None = None  # the heartbeat's own, outside the pool
        self._next_poll = 0.0
        self._timers: list[tuple[float, bool]] = []  # (monotonic due time, second look), sorted
        self._recover = False                  # a claim failed: we may hold jobs we never saw
        # of handlers, a moving average (seconds); unknown until a job has run, and till
        # then nothing is claimed ahead (the first jobs might be long ones)
        self._average_duration = float("inf")

        self.shutdown_event = asyncio.Event()
        self.shutdown_thread_event = threading.Event()
        self._stop_requested = asyncio.Event()
        self._force = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopping = False                 # no more claims, no more starts
        self._interrupting = False             # running jobs are being cancelled
        self._closing_flusher = False
        self.forced = False
        self.error: BaseException | None = None
        self._started = False
        self._loops: list[asyncio.Task] = []
        self._cron_stop = asyncio.Event()
        self._main: asyncio.Task | None = None

    # ------------------------------------------------------------ public

    @property
    def pool(self) -> db.AsyncConnectionPool:
        if self._pool is None:
            raise PgrunError("the worker has not started")
        return self._pool

    @property
    def shutting_down(self) -> bool:
        return self._stopping

    @property
    def running_jobs(self) -> int:
        return len(self._running)

    @property
    def threads_busy(self) -> bool:
        """True while a plain handler is still running in a thread (after an interrupt)."""
        return bool(self._threads_busy)

    def sync_pool(self) -> db.ConnectionPool:
        """A small blocking pool for plain handlers' own queries, opened on first use."""
        with self._sync_pool_lock:
            if self._sync_pool is None:
                self._sync_pool = db.open_sync_pool(self._conninfo, max_size=self._concurrency,
                                                    prepared_statements=self._prepare, name="pgrun-tasks")
            return self._sync_pool

    async def start(self) -> None:
        """Migrates, connects, registers and starts working; errors here are the user's to see."""
        if self._started:
            raise PgrunError("a worker starts once")
        self._started = True
        self._loop = asyncio.get_running_loop()
        if self._run_migrations:
            await asyncio.to_thread(self._migrate)
        self._pool = await db.open_pool(
            self._conninfo, max_size=self._concurrency + 4, prepared_statements=self._prepare,
            name=f"pgrun-{self.schema}",
        )
        try:
            self._beat_conn = await self._connect()
            await self._beat(self._beat_conn, register=True)
            cron = self._make_cron()
        except BaseException:
            await self._close_beat_conn()
            await self._pool.close()
            raise
        self.events.emit("worker:start", self.worker_id)
        if any(not t.is_async for t in self._tasks.values()):
            self._executor = ThreadPoolExecutor(self._concurrency, thread_name_prefix="pgrun-job")
        self._spawn(self._listen_loop(), "pgrun listener")
        self._spawn(self._fetch_loop(), "pgrun fetcher")
        self._spawn(self._flush_loop(), "pgrun flusher")
        self._spawn(self._heartbeat_loop(), "pgrun heartbeat")
        if cron is not None:
            self._spawn(self._cron_loop(cron), "pgrun cron")
        self._main = asyncio.create_task(self._lifecycle(), name="pgrun worker")
        try:  # "ready" means notifications reach us (else we poll, and say so)
            await asyncio.wait_for(self._listening.wait(), 5.0)
        except asyncio.TimeoutError:
            log.warning("LISTEN is not established yet; polling every %s meanwhile",
                        _seconds(self._poll_interval))
        names = ", ".join(self._task_ids[:8]) + (", ..." if len(self._task_ids) > 8 else "")
        log.info("worker %s ready: %d task%s (%s), concurrency %d, schema %s%s",
                 self.worker_id, len(self._tasks), "" if len(self._tasks) == 1 else "s", names,
                 self._concurrency, self.schema, ", once" if self._once else "")

    def request_stop(self, force: bool = False) -> None:
        """Begins a graceful stop; with force (or a second call with force), skips the grace period."""
        if force:
            self.forced = True
            self._force.set()
        if not self._stopping:
            self._stopping = True
            self.shutdown_event.set()
            self.shutdown_thread_event.set()
            self._wake.set()
            self._stop_requested.set()

    async def wait(self) -> WorkerStats:
        """Until the worker has stopped; raises what killed it, if something did."""
        await self._stopped.wait()
        if self.error is not None:
            raise self.error
        return self.stats

    async def stop(self, force: bool = False) -> WorkerStats:
        self.request_stop(force)
        if self._main is None:
            return self.stats
        return await self.wait()

    async def run(self) -> WorkerStats:
        await self.start()
        return await self.wait()

    # ------------------------------------------------------------ start-up

    def _migrate(self) -> None:
        with db.connect(self._conninfo) as conn:
            migrate(conn, self.schema)

    def _make_cron(self):
        """The crontab's scheduler, run as one more loop of this worker (None without --crontab)."""
        if self._crontab is None:
            return None
        path = Path(self._crontab)
        if not path.is_file():
            raise ConfigurationError(f"crontab file {path} not found")
        try:
            items = cron.parse_crontab_file(path)
        except PgrunError:
            raise
        except (ValueError, OSError) as error:
            raise ConfigurationError(f"crontab {path}: {error}") from None
        return cron.CronScheduler(self._pool, self.schema, items)

    def _spawn(self, coro, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._loop_ended)
        self._loops.append(task)

    def _loop_ended(self, task: asyncio.Task) -> None:
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        log.critical("%s crashed; stopping the worker", task.get_name(), exc_info=error)
        if self.error is None:
            self.error = error
        self.request_stop(force=True)

    # ------------------------------------------------------------ claiming

    def _nudge(self) -> None:
        self._maybe_more = True
        self._nudges += 1
        self._wake.set()

    async def _fetch_loop(self) -> None:
        lease = _Lease(self._pool)
        backoff = _Backoff()
        try:
            while not self._stopping:
                self._wake.clear()
                prefetch = self._prefetch if self._average_duration <= PREFETCH_MAX_AVERAGE_SECONDS else 0
                want = self._concurrency + prefetch - len(self._running) - len(self._buffer)
                if self._maybe_more and want > 0 and len(self._buffer) <= prefetch // 2:
                    idle = not (self._running or self._buffer or self._completed or self._failures
                                or self._flush_lock.locked())
                    nudges = self._nudges
                    try:
                        if self._recover:
                            await self._give_back_orphans(await lease.get())
                        jobs = await self._claim(await lease.get(), want)
                    except RETRYABLE as error:
                        self._recover = True
                        await lease.drop()
                        delay = backoff.next()
                        log.warning("claiming jobs failed (%s); retrying in %.1f s", _reason(error), delay)
                        await self._pause(delay)
                        continue
                    backoff.reset()
                    if jobs:
                        self._take(jobs)
                        self._start_jobs()
                    if len(jobs) < want:
                        # a nudge that came during the claim may be about a job it missed
                        self._maybe_more = self._nudges != nudges
                        self._next_poll = time.monotonic() + self._current_poll_interval()
                        if self._once:
                            if idle and not jobs:
                                break  # nothing ran, nothing is left: the queue is drained for us
                            await self._until_idle()
                            await self._flush()
                            self._maybe_more = True
                    continue
                timeout = None if self._maybe_more else max(0.0, self._next_wake() - time.monotonic())
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except asyncio.TimeoutError:
                    self._maybe_more = True
                    self._drop_past_timers()
        finally:
            await lease.drop()
        if self._once and not self._stopping:
            log.info("no runnable jobs left")
            self.request_stop()

    def _current_poll_interval(self) -> float:
        if self._listening.is_set():
            return max(self._poll_interval, LISTENING_POLL_INTERVAL)
        return self._poll_interval

    def _wake_at(self, epoch_seconds: float, second_look: bool = False) -> None:
        """Remembers that a job becomes due at this wall-clock time (the database's)."""
        entry = (time.monotonic() + (epoch_seconds - time.time()), second_look)
        if len(self._timers) >= MAX_TIMERS:
            if entry >= self._timers[-1]:
                return  # later than every one kept: the safety poll covers it
            self._timers.pop()  # the latest goes: the earliest ones matter next
        bisect.insort(self._timers, entry)
        self._wake.set()  # the fetcher recomputes how long to sleep

    def _next_wake(self) -> float:
        return min(self._next_poll, self._timers[0][0]) if self._timers else self._next_poll

    def _drop_past_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, second_look = self._timers.pop(0)
            if not second_look:
                # The database's clock may run a little behind ours: look once more a second later.
                bisect.insort(self._timers, (now + TIMER_SECOND_LOOK, True))

    async def _claim(self, conn, want: int) -> list[Job]:
        params = (self.worker_id, self._task_ids, self._forbidden_flags, want)
        cursor = await conn.execute(self._q.claim, params, prepare=self._prepare)
        return [Job(*row) for row in await cursor.fetchall()]

    async def _give_back_orphans(self, conn) -> None:
        """After a claim whose answer was lost: jobs locked to us that we never saw go back."""
        async with self._flush_lock:
            known = {j.id for j in self._buffer} | set(self._running)
            known |= {j.id for j, *_ in self._completed} | {j.id for j, *_ in self._failures}
            cursor = await conn.execute(self._q.held_job_ids, (self.worker_id,))
            orphans = [row[0] for row in await cursor.fetchall() if row[0] not in known]
            if orphans:
                await conn.execute(self._q.give_back, (self.worker_id, orphans))
                log.warning("gave back %d job(s) claimed by a query whose answer was lost: %s",
                            len(orphans), ", ".join(map(str, orphans)))
        self._recover = False

    async def _pause(self, seconds: float) -> None:
        """Sleeps, unless a stop comes first."""
        try:
            await asyncio.wait_for(self._stop_requested.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    async def _until_idle(self) -> None:
        while (self._running or self._buffer) and not self._stopping:
            self._wake.clear()
            await self._wake.wait()

    # ------------------------------------------------------------ running

    def _take(self, jobs: list[Job]) -> None:
        """Buffers claimed jobs. One still running here was released under it (force-unlocked, or
        rescued after missed heartbeats) and claimed again: it does not start twice."""
        if not (self._running or self._buffer):
            self._buffer.extend(jobs)
            return
        buffered = {job.id: n for n, job in enumerate(self._buffer)}
        for job in jobs:
            if job.id in self._running:
                self._reclaimed[job.id] = job
                log.warning("job %d (%s) was released while running here and claimed again; the running "
                            "attempt continues and its outcome counts for attempt %d/%d", job.id,
                            job.task_identifier, job.attempts, job.max_attempts,
                            extra={"job_id": job.id, "task": job.task_identifier})
            elif job.id in buffered:
                self._buffer[buffered[job.id]] = job  # released while buffered: the newer claim
            else:
                self._buffer.append(job)

    def _start_jobs(self) -> None:
        loop = self._loop
        while self._buffer and len(self._running) < self._concurrency and not self._stopping:
            job = self._buffer.popleft()
            task = loop.create_task(self._run_job(job), name=f"job {job.task_identifier}[{job.id}]")
            self._running[job.id] = task

    async def _run_job(self, job: Job) -> None:
        events = self.events
        taskdef = self._tasks.get(job.task_identifier)
        error: BaseException | None = None
        start = time.perf_counter()
        try:
            if taskdef is None:
                raise ConfigurationError(f"no handler for task {job.task_identifier!r} in this worker")
            if events._listeners:
                events.emit("job:start", self.worker_id, job=job)
            if taskdef.is_async:
                await taskdef.handler(job.payload, Helpers(job, self))
            else:
                await self._loop.run_in_executor(self._executor, self._call_in_thread, taskdef.handler,
                                                 job, SyncHelpers(job, self))
        except asyncio.CancelledError as cancel:
            error = JobInterrupted() if self._interrupting else cancel
        except BaseException as failure:  # SystemExit from a handler fails the job, not the worker
            _drop_runner_frames(failure)
            error = failure
        duration = time.perf_counter() - start
        if self._average_duration == float("inf"):
            self._average_duration = duration
        else:
            self._average_duration += (duration - self._average_duration) * 0.1
        del self._running[job.id]
        if self._reclaimed:
            job = self._reclaimed.pop(job.id, job)  # the outcome is the newer claim's

        if error is None:
            self._completed.append((job, duration, False))
            self._flush_wake.set()
            if events._listeners:
                events.emit("job:success", self.worker_id, job=job, duration=duration)
        elif isinstance(error, JobInterrupted):
            self.stats.interrupted += 1
            self._job_failed(job, duration, SHUTDOWN_MESSAGE, error)
        else:
            self._job_failed(job, duration, _error_text(error), error)
        self._start_jobs()
        self._wake.set()

    def _call_in_thread(self, handler, job: Job, helpers: SyncHelpers) -> None:
        self._threads_busy.add(job.id)
        try:
            handler(job.payload, helpers)
        finally:
            self._threads_busy.discard(job.id)

    def _job_failed(self, job: Job, duration: float, message: str, error: BaseException | None) -> None:
        self._failures.append((job, duration, message, error, False))
        self._flush_wake.set()
        if self.events._listeners:
            self.events.emit("job:error", self.worker_id, job=job, duration=duration, error=error)
            if job.is_last_attempt:
                self.events.emit("job:failed", self.worker_id, job=job, duration=duration, error=error)

    # ------------------------------------------------------------ completing

    async def _flush_loop(self) -> None:
        lease = _Lease(self._pool)
        try:
            while not self._closing_flusher:
                await self._flush_wake.wait()
                if self._closing_flusher:
                    break
                if len(self._completed) + len(self._failures) < self._flush_batch:
                    await asyncio.sleep(self._flush_delay)
                self._flush_wake.clear()
                await self._flush(lease)
        finally:
            await lease.drop()

    async def _flush(self, lease: _Lease | None = None, deadline: float | None = None) -> None:
        """Writes every pending outcome, retrying lost connections (until `deadline`, if given)."""
        own = lease is None
        lease = lease or _Lease(self._pool)
        backoff = _Backoff(0.1, 2.0)
        try:
            async with self._flush_lock:
                while self._completed or self._failures:
                    try:
                        await self._write_outcomes(await lease.get())
                        backoff.reset()
                    except RETRYABLE as error:
                        await lease.drop()
                        delay = backoff.next()
                        if deadline is not None and time.monotonic() + delay > deadline:
                            log.error("could not record %d job outcome(s) (%s); the jobs stay locked "
                                      "until released", len(self._completed) + len(self._failures),
                                      _reason(error))
                            return
                        log.warning("recording job outcomes failed (%s); retrying in %.1f s",
                                    _reason(error), delay)
                        await asyncio.sleep(delay)
        finally:
            if own:
                await lease.drop()

    async def _write_outcomes(self, conn) -> None:
        queue_freed = False
        if self._completed:
            batch, self._completed = self._completed, []
            try:
                cursor = await conn.execute(self._q.complete, (self.worker_id, [j.id for j, _, _ in batch]),
                                            prepare=self._prepare)
                done = {row[0] for row in await cursor.fetchall()}
            except BaseException:
                self._completed[:0] = [(j, d, True) for j, d, _ in batch]
                raise
            self._report_completed(batch, done)
            queue_freed = any(j.queue_name is not None for j, _, _ in batch)
        if self._failures:
            batch, self._failures = self._failures, []
            try:
                cursor = await conn.execute(
                    self._q.fail, (self.worker_id, [f[0].id for f in batch], [f[2] for f in batch]),
                    prepare=self._prepare)
                rows = {row[0]: row for row in await cursor.fetchall()}
            except BaseException:
                self._failures[:0] = [(j, d, m, e, True) for j, d, m, e, _ in batch]
                raise
            self._report_failed(batch, rows)
            queue_freed = queue_freed or any(f[0].queue_name is not None for f in batch)
        if queue_freed:
            self._nudge()  # the next job of a named queue is runnable now

    def _report_completed(self, batch, done: set[int]) -> None:
        info = log.isEnabledFor(logging.INFO)
        for job, duration, retried in batch:
            if job.id in done:
                self.stats.completed += 1
                if info:
                    log.info("job %d (%s) completed on attempt %d/%d in %s", job.id, job.task_identifier,
                             job.attempts, job.max_attempts, _ms(duration),
                             extra={"job_id": job.id, "task": job.task_identifier})
            elif retried:
                self.stats.completed += 1
                log.warning("job %d (%s) completed on attempt %d/%d in %s; the write was retried after "
                            "a lost connection and could not be confirmed", job.id, job.task_identifier,
                            job.attempts, job.max_attempts, _ms(duration),
                            extra={"job_id": job.id, "task": job.task_identifier})
            else:
                log.warning("job %d (%s) finished in %s but this worker no longer held it (released "
                            "after missed heartbeats, or force-unlocked); it may run again",
                            job.id, job.task_identifier, _ms(duration),
                            extra={"job_id": job.id, "task": job.task_identifier})

    def _report_failed(self, batch, rows: dict[int, tuple]) -> None:
        now = datetime.now().astimezone()
        for job, duration, message, error, _retried in batch:
            self.stats.failed += 1
            extra = {"job_id": job.id, "task": job.task_identifier}
            exc_info = error if error is not None and not isinstance(error, JobInterrupted) else None
            summary = message.splitlines()[0] if message else "error"
            row = rows.get(job.id)
            if row is None:
                log.warning("job %d (%s) failed on attempt %d/%d after %s but this worker no longer held "
                            "it: %s", job.id, job.task_identifier, job.attempts, job.max_attempts,
                            _ms(duration), summary, exc_info=exc_info, extra=extra)
                continue
            _, run_at, attempts, max_attempts = row
            if attempts >= max_attempts:
                self.stats.permanently_failed += 1
                log.error("job %d (%s) failed permanently on attempt %d/%d after %s: %s", job.id,
                          job.task_identifier, attempts, max_attempts, _ms(duration), summary,
                          exc_info=exc_info, extra=extra)
            else:
                wait = (run_at - now).total_seconds()
                self._wake_at(run_at.timestamp())
                log.warning("job %d (%s) failed on attempt %d/%d after %s; retrying in %s (at %s): %s",
                            job.id, job.task_identifier, attempts, max_attempts, _ms(duration),
                            _seconds(wait), run_at.astimezone().isoformat(timespec="seconds"), summary,
                            exc_info=exc_info, extra=extra)

    # ------------------------------------------------------------ listening

    async def _listen_loop(self) -> None:
        backoff = _Backoff(0.25, 10.0)
        lost = False
        while True:
            conn = None
            try:
                conn = self._listen_conn = await self._connect()
                await conn.execute(self._q.listen)
                (log.info if lost else log.debug)("listening for new jobs%s", " again" if lost else "")
                self._listening.set()
                self.events.emit("worker:listen", self.worker_id)
                lost = False
                backoff.reset()
                self._nudge()  # whatever was added while we were not listening
                while True:
                    async for notification in conn.notifies(timeout=LISTEN_CHECK_SECONDS):
                        self._on_notification(notification.payload)
                    await conn.execute("select 1")  # silent for a while: is the line still alive?
            except Exception as error:  # a bug or a pooler's error too: the worker keeps going
                lost = True
                self._listening.clear()
                delay = backoff.next()
                if isinstance(error, RETRYABLE):
                    log.warning("LISTEN connection lost (%s); reconnecting in %.1f s (polling meanwhile)",
                                _reason(error), delay)
                else:
                    log.error("LISTEN connection failed (%s); reconnecting in %.1f s (polling meanwhile)",
                              _reason(error), delay, exc_info=error)
                self.events.emit("worker:listen:error", self.worker_id, error=error)
                await asyncio.sleep(delay)
            finally:
                self._listen_conn = None
                if conn is not None and not conn.closed:
                    try:
                        await conn.close()
                    except Exception:
                        pass

    def _on_notification(self, payload: str) -> None:
        """An empty payload: a job is due now. Epoch seconds: a job is due then."""
        if payload:
            try:
                due = float(payload)
            except ValueError:
                due = 0.0  # not ours to parse: treat it as a nudge
            if due > time.time():
                self._wake_at(due)
                return
        self._nudge()

    # ------------------------------------------------------------ heartbeats

    async def _beat(self, conn, register: bool = False) -> None:
        """One statement: our beat, and the release of workers whose beats stopped."""
        info = None
        if register:
            info = db.Jsonb({"host": socket.gethostname(), "pid": os.getpid(), "tasks": self._task_ids,
                          "concurrency": self._concurrency, "schema": self.schema})
        cursor = await conn.execute(self._q.heartbeat, (self.worker_id, info, self._heartbeat_timeout),
                                    prepare=self._prepare)
        for dead, released in await cursor.fetchall():
            log.warning("worker %s stopped sending heartbeats; released %d of its job(s)", dead, released)
            self.events.emit("worker:rescue", self.worker_id,
                             data={"dead_worker_id": dead, "released_jobs": released})

    async def _heartbeat_loop(self) -> None:
        backoff = _Backoff(min(0.25, self._heartbeat_interval), self._heartbeat_interval)
        delay = self._heartbeat_interval
        try:
            while True:
                await asyncio.sleep(delay)
                try:
                    if self._beat_conn is None:
                        self._beat_conn = await self._connect()
                    await self._beat(self._beat_conn)
                except RETRYABLE as error:
                    await self._close_beat_conn()
                    delay = backoff.next()
                    log.warning("heartbeat failed (%s); trying again in %.1f s", _reason(error), delay)
                else:
                    backoff.reset()
                    delay = self._heartbeat_interval
        finally:
            await self._close_beat_conn()

    async def _connect(self) -> db.AsyncConnection:
        """A connection outside the pool (LISTEN, heartbeat), with the pool's settings."""
        return await db.connect_async(self._conninfo, **db.connection_kwargs(self._prepare), **KEEPALIVES)

    async def _close_beat_conn(self) -> None:
        conn, self._beat_conn = self._beat_conn, None
        if conn is not None and not conn.closed:
            try:
                await conn.close()
            except Exception:
                pass

    # ------------------------------------------------------------ cron

    async def _cron_loop(self, scheduler) -> None:
        backoff = _Backoff(1.0, 30.0)
        while not self._cron_stop.is_set():
            try:
                await scheduler.run(self._cron_stop)
                return
            except RETRYABLE as error:
                delay = backoff.next()
                log.warning("cron scheduler lost its connection (%s); restarting in %.1f s",
                            _reason(error), delay)
                await asyncio.sleep(delay)

    # ------------------------------------------------------------ shutdown

    async def _lifecycle(self) -> None:
        try:
            await self._stop_requested.wait()
            await self._shutdown()
        except BaseException as error:  # a bug in shutdown itself: say so, still end
            log.critical("worker shutdown failed", exc_info=error)
            if self.error is None:
                self.error = error
        finally:
            self._stopped.set()

    async def _shutdown(self) -> None:
        running, buffered = len(self._running), len(self._buffer)
        self.events.emit("worker:shutdown", self.worker_id)
        if running or buffered:
            log.info("worker %s stopping: %d running job(s), %d buffered", self.worker_id, running, buffered)
        loops = {t.get_name(): t for t in self._loops}

        # 1. No more claims: let an in-flight claim land, then give the buffer back.
        fetcher = loops.get("pgrun fetcher")
        if fetcher is not None and not fetcher.done():
            done, _ = await asyncio.wait({fetcher}, timeout=5.0)
            if not done:
                fetcher.cancel()
        await self._give_back_buffer()

        # 2. Running jobs get the grace period (a second signal ends it).
        if self._running and not self._force.is_set():
            log.info("waiting up to %s for %d running job(s) to finish (send the signal again to stop "
                     "at once)", _seconds(self._shutdown_timeout), len(self._running))
            deadline = time.monotonic() + self._shutdown_timeout
            force = asyncio.create_task(self._force.wait())
            while self._running and not force.done():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                await asyncio.wait({*self._running.values(), force}, timeout=remaining,
                                   return_when=asyncio.FIRST_COMPLETED)
            force.cancel()

        # 3. Whatever still runs is interrupted and failed with a clear message.
        if self._running:
            log.warning("interrupting %d job(s) still running: %s", len(self._running),
                        ", ".join(t.get_name() for t in self._running.values()))
            self._interrupting = True
            tasks = list(self._running.values())
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=2.0)

        # 4. Record every outcome, leave the workers table, close.
        self._closing_flusher = True
        self._flush_wake.set()
        flusher = loops.get("pgrun flusher")
        if flusher is not None:
            await asyncio.wait({flusher}, timeout=5.0)
        await self._flush(deadline=time.monotonic() + 10.0)
        self._cron_stop.set()
        cron = loops.get("pgrun cron")
        if cron is not None:
            done, _ = await asyncio.wait({cron}, timeout=5.0)
            if not done:
                cron.cancel()
        for task in self._loops:
            if not task.done():
                task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self._unregister()
        await self.events.drain()
        await self._close()
        s = self.stats
        log.info("worker %s stopped%s: %d completed, %d failed%s", self.worker_id,
                 " (forced)" if self.forced else "", s.completed, s.failed,
                 f", {s.given_back} given back" if s.given_back else "")
        self.events.emit("worker:stop", self.worker_id, error=self.error)
        await self.events.drain()  # async listeners of worker:stop finish before wait() returns

    async def _give_back_buffer(self) -> None:
        if not self._buffer:
            return
        ids = [job.id for job in self._buffer]
        self._buffer.clear()
        for attempt in range(3):
            try:
                async with self._pool.connection(timeout=5.0) as conn:
                    cursor = await conn.execute(self._q.give_back, (self.worker_id, ids))
                    self.stats.given_back += len(await cursor.fetchall())
                log.info("gave back %d unstarted job(s): %s", len(ids), ", ".join(map(str, ids)))
                return
            except RETRYABLE as error:
                if attempt == 2:
                    log.error("could not give back %d unstarted job(s) (%s); they are released when "
                              "this worker's heartbeat expires", len(ids), _reason(error))
                    return
                await asyncio.sleep(0.2 * (attempt + 1))

    async def _unregister(self) -> None:
        for attempt in range(3):
            try:
                async with self._pool.connection(timeout=5.0) as conn:
                    await conn.execute(self._q.unregister, (self.worker_id,))
                return
            except RETRYABLE as error:
                if attempt == 2:
                    log.error("could not unregister worker %s (%s); its row expires with its heartbeat",
                              self.worker_id, _reason(error))
                    return
                await asyncio.sleep(0.2 * (attempt + 1))

    async def _close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self._sync_pool is not None:
            await asyncio.to_thread(self._sync_pool.close, 2.0)
        if self._pool is not None:
            await self._pool.close(timeout=2.0)


_RUNNER_FILES = frozenset({__file__, concurrent.futures.thread.__file__})


def _drop_runner_frames(error: BaseException) -> None:
    """Tracebacks start at the handler: the runner's own frames above it are noise."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None and tb.tb_frame.f_code.co_filename in _RUNNER_FILES:
        tb = tb.tb_next
    error.__traceback__ = tb


def _error_text(error: BaseException) -> str:
    """What goes into last_error: the error on the first line, then the traceback."""
    first = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return first + "\n" + "".join(traceback.format_exception(type(error), error, error.__traceback__))


def _reason(error: BaseException) -> str:
    """The error's first line (psycopg's messages go on with CONTEXT and hints)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _ms(seconds: float) -> str:
    if seconds < 0.001:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return _seconds(seconds)


def _seconds(seconds: float) -> str:
    if seconds < 0:
        seconds = 0.0
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
