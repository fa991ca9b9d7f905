"""Running claimed jobs: the local buffer, the slots, and each handler's call.

Plain handlers run in a thread pool; async ones run on the loop. A job's
outcome is handed to the writer by the task that ran it, with no await in
between, so a cancellation cannot lose it.

Stopping one attempt (its cancel was asked, or its timeout passed): its
`helpers.cancelled` event is set and an async handler's task is cancelled. A
thread cannot be stopped: if it has not returned `stop_grace` seconds later, its
slot is released (the attempt is recorded as stopped) and the thread is
abandoned; it holds a thread and what it references until it returns. Past
`max_abandoned_threads` still alive, the worker asks to be restarted.

A plain handler of a task with isolation="process" (or of any task, with the
worker's isolation="process") runs in a child process instead (isolation.py): a
stop sends it SIGTERM (helpers.cancelled), then SIGKILL after `stop_grace`, so
nothing is abandoned; an interrupt at shutdown kills it.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures.thread
import contextvars
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from typing import TYPE_CHECKING

from . import middleware as _middleware
from . import payloads
from .errors import ConfigurationError, JobInterrupted, JobStopped, PermanentFailure, Snooze
from .fmt import duration
from .helpers import Helpers, SyncHelpers
from .isolation import ProcessCall, ProcessPool
from .job import Job
from .logs import job_fields
from .middleware import Middleware, check, compose, enter_job, leave_job, log_context
from .outcomes import CANCEL_MESSAGE, COMPLETE, FAIL, SNOOZE, Outcome
from .tasks import check_isolatable
from .text import error_text

if TYPE_CHECKING:
    from .worker import Worker

log = logging.getLogger("pgrun.worker")

SHUTDOWN_MESSAGE = JobInterrupted.__doc__


def timeout_message(seconds: float) -> str:
    """What a timed-out attempt records (the SQL timeout sweep writes the same words)."""
    return f"timed out after {seconds:g} s"


class Execution:
    def __init__(self, worker: Worker, tasks, concurrency: int, *, stop_grace: float = 10.0,
                 max_abandoned_threads: int | None = None, isolation: str = "thread",
                 middleware: Sequence[Middleware] = ()) -> None:
        if isolation not in ("thread", "process"):
            raise ConfigurationError(f'isolation is "thread" or "process" (got {isolation!r})')
        if isolation == "process":
            for taskdef in tasks.values():
                if not taskdef.is_async and taskdef.isolation is None:   # "process" ones: checked at load
                    check_isolatable(taskdef)
        self.isolation = isolation
        # pgrun's own middleware first, then the worker's (middleware.py); built once. Without
        # the worker's, the log context is set here directly: two awaits less per job.
        chain = check(middleware)
        self._call = (compose((log_context(worker), *chain), self._invoke) if chain
                      else self._invoke_in_context)
        self._processes: ProcessPool | None = None   # for isolated handlers, on first use
        self._calls: dict[int, ProcessCall | None] = {}   # running isolated jobs: their calls
        self._worker = worker
        self._tasks = tasks
        self.concurrency = concurrency
        self.stop_grace = stop_grace
        self.max_abandoned_threads = concurrency if max_abandoned_threads is None else max_abandoned_threads
        self.buffer: collections.deque[Job] = collections.deque()
        self.running: dict[int, asyncio.Task] = {}
        self.jobs: dict[int, Job] = {}             # the attempt each running task runs
        self._stops: dict[int, str] = {}           # running jobs asked to stop: what to record
        self._signals: dict[int, threading.Event | asyncio.Event] = {}   # their helpers.cancelled
        self._plain: set[int] = set()              # running jobs whose handler runs in a thread
        self._abandoned: set[int] = set()          # jobs whose thread was left running
        self._abandoned_alive = 0                  # of those threads, the ones not returned yet
        self._abandon_lock = threading.Lock()
        self._reclaimed: dict[int, Job] = {}   # running here, released, claimed again: the newer claim
        self._threads_busy: set[int] = set()
        self._executor: ThreadPoolExecutor | None = None   # for plain handlers, on first use
        self.interrupting = False
        self.starting = True
        # of handlers, a moving average (seconds); unknown until a job has run, and till
        # then nothing is claimed ahead (the first jobs might be long ones)
        self.average_duration = float("inf")

    @property
    def threads_busy(self) -> bool:
        return bool(self._threads_busy)

    def known_attempts(self) -> set[int]:
        return {job.id for job in self.buffer} | set(self.running)

    def take(self, jobs: list[Job]) -> None:
        """Buffers claimed jobs. One still running here was released under it (force-unlocked, or
        presumed dead) and claimed again: it does not start twice, and its outcome is the new claim's."""
        if not (self.running or self.buffer):
            self.buffer.extend(jobs)
        else:
            buffered = {job.id: n for n, job in enumerate(self.buffer)}
            for job in jobs:
                if job.id in self.running:
                    self._reclaimed[job.id] = job
                    log.warning("job %d (%s) was released while running here and claimed again; the running "
                                "attempt continues and its outcome counts for attempt %d/%d", job.id,
                                job.task_identifier, job.attempts, job.max_attempts, extra=job_fields(job))
                elif job.id in buffered:
                    self.buffer[buffered[job.id]] = job  # released while buffered: the newer claim
                else:
                    self.buffer.append(job)
        self.start()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        while self.buffer and len(self.running) < self.concurrency and self.starting:
            job = self.buffer.popleft()
            name = f"job {job.task_identifier}[{job.id}]"
            self.jobs[job.id] = job
            self.running[job.id] = loop.create_task(self._run_job(job), name=name)

    def give_back_all(self) -> list[Job]:
        jobs = list(self.buffer)
        self.buffer.clear()
        return jobs

    def interrupt_all(self, threads: bool = True) -> list[asyncio.Task]:
        """Cancels running jobs: each is failed as interrupted. A plain handler's thread cannot be
        stopped; with threads=False its job is left running here (so it is never started twice)."""
        self.interrupting = True
        tasks = [task for job_id, task in self.running.items() if threads or job_id not in self._threads_busy]
        for task in tasks:
            task.cancel()
        return tasks

    def stop(self, job_id: int, message: str, lease: int | None = None) -> bool:
        """Asks a running attempt to stop (its cancel, its timeout); `message` is what it records.
        False if that attempt does not run here (finished, or another lease)."""
        task = self.running.get(job_id)
        job = self.jobs.get(job_id)
        if task is None or job is None or (lease is not None and job.lease != lease) or job_id in self._stops:
            return False
        self._stops[job_id] = message
        signal = self._signals.get(job_id)
        if signal is not None:
            signal.set()
        if job_id in self._calls:
            call = self._calls[job_id]   # None while its child starts: stopped once started
            if call is not None:
                call.request_stop(self.stop_grace)   # SIGTERM, SIGKILL after the grace
        elif job_id in self._plain:
            asyncio.get_running_loop().call_later(self.stop_grace, self._abandon, job_id, task)
        else:
            task.cancel()
        return True

    def _abandon(self, job_id: int, task: asyncio.Task) -> None:
        """The grace after a stop is over and the thread has not returned: free its slot."""
        if self.running.get(job_id) is not task:
            return
        if job_id not in self._threads_busy:  # still queued for a thread: it never starts
            task.cancel()
            return
        with self._abandon_lock:
            self._abandoned.add(job_id)
            self._abandoned_alive += 1
            alive = self._abandoned_alive
        self._worker.stats.abandoned_threads += 1
        job = self.jobs[job_id]
        log.warning("job %d (%s) ignored its stop for %s; its slot is released and its thread abandoned "
                    "(it keeps a thread and its memory until the handler returns; %d abandoned thread(s) "
                    "alive, the worker restarts past %d)", job_id, job.task_identifier,
                    duration(self.stop_grace), alive, self.max_abandoned_threads, extra=job_fields(job))
        task.cancel()
        if alive > self.max_abandoned_threads:
            self._worker.restart(f"{alive} abandoned handler threads are still running")

    async def _run_job(self, job: Job) -> None:
        worker = self._worker
        events = worker.events
        taskdef = self._tasks.get(job.task_identifier)
        error: BaseException | None = None
        value = None
        timer = None
        start = time.perf_counter()
        try:
            if taskdef is None:
                raise ConfigurationError(f"no handler for task {job.task_identifier!r} in this worker")
            if isinstance(job.payload, payloads.Unreadable):   # it never will be: no retry
                raise PermanentFailure(f"the job's payload cannot be read by Python: {job.payload.reason}")
            limit = job.timeout or taskdef.timeout
            if limit:
                timer = asyncio.get_running_loop().call_later(limit, self.stop, job.id,
                                                              timeout_message(limit))
            if events._listeners:
                events.emit("job:start", worker.worker_id, job=job)
            value = await self._call(job, taskdef)   # the middleware chain, then _invoke
        except asyncio.CancelledError as cancel:
            error = JobInterrupted() if self.interrupting and job.id not in self._stops else cancel
        except BaseException as failure:  # SystemExit from a handler fails the job, not the worker
            _drop_runner_frames(failure)
            error = failure
        elapsed = time.perf_counter() - start
        if timer is not None:
            timer.cancel()
        if self.average_duration == float("inf"):
            self.average_duration = elapsed
        else:
            self.average_duration += (elapsed - self.average_duration) * 0.1
        del self.running[job.id]
        del self.jobs[job.id]
        self._signals.pop(job.id, None)
        self._plain.discard(job.id)
        self._calls.pop(job.id, None)
        stopped = self._stops.pop(job.id, None)
        if stopped is not None:  # whatever the handler did after its stop, the stop is recorded
            error, value = JobStopped(stopped), None
            if stopped != CANCEL_MESSAGE:
                worker.stats.timed_out += 1
                if events._listeners:
                    events.emit("job:timeout", worker.worker_id, job=job, duration=elapsed, error=error)
        if self._reclaimed:
            job = self._reclaimed.pop(job.id, job)  # the outcome is the newer claim's

        if error is None:
            try:
                result = None if value is None else payloads.encode(value)
            except (TypeError, ValueError) as unstorable:
                error = TypeError(f"the handler returned a value that cannot be stored as JSON: {unstorable}")
        if error is None:
            worker.outcomes.add(Outcome(COMPLETE, job, elapsed, result=result))
            if events._listeners:
                events.emit("job:success", worker.worker_id, job=job, duration=elapsed)
        elif isinstance(error, Snooze):  # runs again later, its attempt not counted
            worker.outcomes.add(Outcome(SNOOZE, job, elapsed, delay=error.seconds,
                                        pause_key=getattr(error, "key", None)))  # RateLimited's
            if events._listeners:
                events.emit("job:snooze", worker.worker_id, job=job, duration=elapsed,
                            data={"seconds": error.seconds})
        else:
            interrupted = isinstance(error, JobInterrupted)
            if interrupted:
                worker.stats.interrupted += 1
            message = SHUTDOWN_MESSAGE if interrupted else str(error) if stopped else error_text(error)
            permanent = isinstance(error, PermanentFailure)
            policy = None if taskdef is None or interrupted or permanent else taskdef.retry
            wait = None
            if policy is not None:
                permanent = not policy.retries(error)
                if not (permanent or policy.in_sql or (job.meta and "retry" in job.meta)):
                    wait = _custom_wait(policy, job, error)
            worker.outcomes.add(Outcome(FAIL, job, elapsed, message=message, error=error,
                                        interrupted=interrupted, permanent=permanent, retry_delay=wait))
            if events._listeners:
                events.emit("job:error", worker.worker_id, job=job, duration=elapsed, error=error)
                if job.is_last_attempt or permanent:
                    events.emit("job:failed", worker.worker_id, job=job, duration=elapsed, error=error)
        self.start()
        worker.slot_freed()

    async def _invoke_in_context(self, job: Job, taskdef):
        """log_context's work and _invoke, in one call (no middleware of the worker's)."""
        token = enter_job(job, self._worker)
        try:
            return await self._invoke(job, taskdef)
        finally:
            leave_job(token)

    async def _invoke(self, job: Job, taskdef):
        """The end of the middleware chain: the payload's validation, then the handler."""
        worker = self._worker
        payload = job.payload if taskdef.decode is None else taskdef.decode(job.payload)
        if taskdef.is_async:
            helpers = Helpers(job, worker)
            self._signals[job.id] = helpers.cancelled
            return await taskdef.handler(payload, helpers)
        if (taskdef.isolation or self.isolation) == "process":
            return await self._run_isolated(taskdef, job, payload)
        if self._executor is None:
            # room for the threads of abandoned attempts beside the slots
            self._executor = ThreadPoolExecutor(self.concurrency + self.max_abandoned_threads + 1,
                                                thread_name_prefix="pgrun-job")
        helpers = SyncHelpers(job, worker)
        self._signals[job.id] = helpers.cancelled
        self._plain.add(job.id)
        # in a copy of this task's context: what the middleware set is seen in the thread
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, contextvars.copy_context().run, self._call_in_thread, taskdef.handler, job,
            payload, helpers)

    async def _run_isolated(self, taskdef, job: Job, payload):
        if self._processes is None:
            worker = self._worker
            modules = {t.handler.__module__ for t in self._tasks.values()
                       if not t.is_async and (t.isolation or self.isolation) == "process"}
            self._processes = ProcessPool(
                {"conninfo": worker.conninfo, "schema": worker.schema, "worker_id": worker.worker_id},
                max_idle=self.concurrency, preload=tuple(sorted(modules)))
        self._processes.shutting_down = self._worker.shutting_down
        info = {field.name: getattr(job, field.name) for field in fields(job)}
        self._calls[job.id] = None
        call = await self._processes.start(taskdef.handler, payload, info,
                                           memory_limit_mb=taskdef.memory_limit_mb)
        self._calls[job.id] = call
        if job.id in self._stops:   # asked to stop while its child was starting
            call.request_stop(self.stop_grace)
        return await call.result()

    def shutting_down(self) -> None:
        """Shutdown begins: isolated handlers see helpers.shutdown set."""
        if self._processes is not None:
            self._processes.shutting_down = True
        for call in self._calls.values():
            if call is not None:  # (None: its child is starting; it learns at start)
                call.shutdown()

    def _call_in_thread(self, handler, job: Job, payload, helpers: SyncHelpers):
        self._threads_busy.add(job.id)
        try:
            return handler(payload, helpers)
        finally:
            self._threads_busy.discard(job.id)
            with self._abandon_lock:
                if job.id in self._abandoned:
                    self._abandoned.discard(job.id)
                    self._abandoned_alive -= 1

    def close(self) -> None:
        if self._processes is not None:
            self._processes.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


_RUNNER_FILES = frozenset({__file__, _middleware.__file__, concurrent.futures.thread.__file__})


def _drop_runner_frames(error: BaseException) -> None:
    """Tracebacks start at the handler: the runner's own frames above it are noise."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None and tb.tb_frame.f_code.co_filename in _RUNNER_FILES:
        tb = tb.tb_next
    error.__traceback__ = tb


def _custom_wait(policy, job: Job, error: BaseException) -> float | None:
    """A custom policy's delay for this failure; None (the database's backoff) if it fails."""
    try:
        return policy.delay(job.attempts, error)
    except Exception:
        log.exception("job %d (%s): its custom retry policy raised; the default backoff applies", job.id,
                      job.task_identifier, extra=job_fields(job))
        return None

