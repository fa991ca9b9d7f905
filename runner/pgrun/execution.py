"""Running claimed jobs: the local buffer, the slots, and each handler's call.

Plain handlers run in a thread pool sized to the concurrency; async ones run
on the loop. A job's outcome is handed to the writer by the task that ran it,
with no await in between, so a cancellation cannot lose it.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures.thread
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from . import payloads
from .errors import ConfigurationError, JobInterrupted
from .helpers import Helpers, SyncHelpers
from .job import Job
from .outcomes import COMPLETE, FAIL, Outcome
from .text import error_text

if TYPE_CHECKING:
    from .worker import Worker

log = logging.getLogger("pgrun.worker")

SHUTDOWN_MESSAGE = JobInterrupted.__doc__


class Execution:
    def __init__(self, worker: Worker, tasks, concurrency: int) -> None:
        self._worker = worker
        self._tasks = tasks
        self.concurrency = concurrency
        self.buffer: collections.deque[Job] = collections.deque()
        self.running: dict[int, asyncio.Task] = {}
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
                                job.task_identifier, job.attempts, job.max_attempts, extra=_extra(job))
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

    async def _run_job(self, job: Job) -> None:
        worker = self._worker
        events = worker.events
        taskdef = self._tasks.get(job.task_identifier)
        error: BaseException | None = None
        value = None
        start = time.perf_counter()
        try:
            if taskdef is None:
                raise ConfigurationError(f"no handler for task {job.task_identifier!r} in this worker")
            if events._listeners:
                events.emit("job:start", worker.worker_id, job=job)
            if taskdef.is_async:
                value = await taskdef.handler(job.payload, Helpers(job, worker))
            else:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="pgrun-job")
                value = await asyncio.get_running_loop().run_in_executor(
                    self._executor, self._call_in_thread, taskdef.handler, job, SyncHelpers(job, worker))
        except asyncio.CancelledError as cancel:
            error = JobInterrupted() if self.interrupting else cancel
        except BaseException as failure:  # SystemExit from a handler fails the job, not the worker
            _drop_runner_frames(failure)
            error = failure
        elapsed = time.perf_counter() - start
        if self.average_duration == float("inf"):
            self.average_duration = elapsed
        else:
            self.average_duration += (elapsed - self.average_duration) * 0.1
        del self.running[job.id]
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
        else:
            interrupted = isinstance(error, JobInterrupted)
            if interrupted:
                worker.stats.interrupted += 1
            message = SHUTDOWN_MESSAGE if interrupted else error_text(error)
            worker.outcomes.add(Outcome(FAIL, job, elapsed, message=message, error=error,
                                        interrupted=interrupted))
            if events._listeners:
                events.emit("job:error", worker.worker_id, job=job, duration=elapsed, error=error)
                if job.is_last_attempt:
                    events.emit("job:failed", worker.worker_id, job=job, duration=elapsed, error=error)
        self.start()
        worker.slot_freed()

    def _call_in_thread(self, handler, job: Job, helpers: SyncHelpers):
        self._threads_busy.add(job.id)
        try:
            return handler(job.payload, helpers)
        finally:
            self._threads_busy.discard(job.id)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


_RUNNER_FILES = frozenset({__file__, concurrent.futures.thread.__file__})


def _drop_runner_frames(error: BaseException) -> None:
    """Tracebacks start at the handler: the runner's own frames above it are noise."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None and tb.tb_frame.f_code.co_filename in _RUNNER_FILES:
        tb = tb.tb_next
    error.__traceback__ = tb


def _extra(job: Job) -> dict:
    return {"job_id": job.id, "task": job.task_identifier}
