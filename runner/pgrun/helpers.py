"""What a handler gets besides its payload: `handler(payload, helpers)`.

An `async` handler gets `Helpers` (await its methods); a plain handler runs in a
thread and gets `SyncHelpers`, whose methods block instead.

    helpers.job             the Job row (id, attempts, max_attempts, run_at, ...)
    helpers.logger          a logger whose lines start with "job 42 (emails.send): "
    helpers.add_job(...)    add a job (all the options of pgrun.add_job)
    helpers.add_jobs(...)   add many
    helpers.connection()    a pooled connection for the task's own queries (autocommit)
    helpers.shutdown        an Event set when the worker starts shutting down
    helpers.shutting_down   the same, as a bool
    helpers.cancelled       an Event set when this attempt is asked to stop: its cancel
                            (cancel_jobs) or its timeout. An async handler is also
                            cancelled (CancelledError); a plain one should wait on it or
                            poll it, and return
    helpers.parent_results()   what the jobs it depends on returned, {job id: result}
    helpers.step(name, fn, *args, **kwargs)   a durable step: run once, its result recorded;
                            a retried attempt gets the recorded result instead (pgrun.steps)
    helpers.sleep_until(t)  end the attempt until t, holding no worker slot (a snooze)
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, overload

from . import steps, utils
from .job import Job, JobKeyMode, JobSpec
from .typed import TaskRef

P = TypeVar("P")

if TYPE_CHECKING:
    import psycopg
    from typing_extensions import Unpack

    from .retry import RetryPolicy
    from .typed import AddJobOptions
    from .worker import Worker

_task_log = logging.getLogger("pgrun.task")


class JobLogger(logging.LoggerAdapter):
    """Prefixes every line with the job and adds job_id/task to the record."""

    def process(self, msg, kwargs):
        extra = self.extra
        if "extra" in kwargs:
            kwargs["extra"] = {**extra, **kwargs["extra"]}
        else:
            kwargs["extra"] = extra
        return f"job {extra['job_id']} ({extra['task']}): {msg}", kwargs


class _BaseHelpers:
    __slots__ = ("job", "_worker", "_logger", "cancelled", "_steps")

    def __init__(self, job: Job, worker: Worker) -> None:
        self.job = job
        self._worker = worker
        self._logger: JobLogger | None = None
        self._steps: dict[str, Any] | None = None   # durable steps recorded so far, read on first use

    @property
    def logger(self) -> JobLogger:
        if self._logger is None:
            self._logger = JobLogger(_task_log, {"job_id": self.job.id, "task": self.job.task_identifier})
        return self._logger

    @property
    def worker_id(self) -> str:
        return self._worker.worker_id

    @property
    def schema(self) -> str:
        return self._worker.schema

    @property
    def shutting_down(self) -> bool:
        return self._worker.shutting_down


class Helpers(_BaseHelpers):
    """Helpers for an async handler."""

    __slots__ = ()

    def __init__(self, job: Job, worker: Worker) -> None:
        super().__init__(job, worker)
        self.cancelled = asyncio.Event()

    @property
    def shutdown(self) -> asyncio.Event:
        """Set when shutdown begins: `await helpers.shutdown.wait()` or check `.is_set()`."""
        return self._worker.shutdown_event

    def connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection]:
        """`async with helpers.connection() as conn:` a pooled autocommit connection (handlers
        have a pool of their own: they cannot starve the runner's claims and outcomes)."""
        return _handler_connection(self._worker)

    @overload
    async def add_job(self, identifier: TaskRef[P], payload: P, *,
                      connection: psycopg.AsyncConnection | None = None,
                      **options: Unpack[AddJobOptions]) -> Job: ...
    @overload
    async def add_job(self, identifier: str, payload: Any = None, *,
                      connection: psycopg.AsyncConnection | None = None,
                      **options: Unpack[AddJobOptions]) -> Job: ...
    async def add_job(self, identifier: str | TaskRef[Any], payload: Any = None, *,
                      queue_name: str | None = None, run_at: datetime | None = None,
                      max_attempts: int | None = None, job_key: str | None = None,
                      priority: int | None = None, flags: Sequence[str] | None = None,
                      job_key_mode: JobKeyMode = "replace",
                      connection: psycopg.AsyncConnection | None = None,
                      timeout: float | timedelta | None = None, validate: bool = False,
                      retry: RetryPolicy | None = None, meta: dict[str, Any] | None = None,
                      depends_on: Sequence[int] | None = None,
                      limit_keys: Sequence[str] | None = None) -> Job:
        """Adds a job; pass `connection` to add it inside your own transaction."""
        options = dict(queue_name=queue_name, run_at=run_at, max_attempts=max_attempts, job_key=job_key,
                       priority=priority, flags=flags, job_key_mode=job_key_mode, schema=self.schema,
                       timeout=timeout, validate=validate, retry=retry, meta=meta, depends_on=depends_on,
                       limit_keys=limit_keys)
        if connection is not None:
            return await utils.add_job_async(connection, identifier, payload, **options)
        async with _handler_connection(self._worker) as conn:
            return await utils.add_job_async(conn, identifier, payload, **options)

    async def add_jobs(self, specs: Iterable[JobSpec], *, job_key_preserve_run_at: bool = False,
                       connection: psycopg.AsyncConnection | None = None) -> list[Job]:
        if connection is not None:
            return await utils.add_jobs_async(connection, specs, schema=self.schema,
                                              job_key_preserve_run_at=job_key_preserve_run_at)
        async with _handler_connection(self._worker) as conn:
            return await utils.add_jobs_async(conn, specs, schema=self.schema,
                                              job_key_preserve_run_at=job_key_preserve_run_at)

    async def parent_results(self) -> dict[int, Any]:
        """What the jobs this one depends on (add_job's depends_on) returned, by their ids."""
        async with _handler_connection(self._worker) as conn:
            return await steps.parent_results_async(conn, self._worker.queries, self.job.id)

    async def step(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Runs `fn(*args, **kwargs)` (awaited if it gives an awaitable) unless this job already
        recorded step `name`; returns the recorded result (as JSON gives it back). See pgrun.steps."""
        queries = self._worker.queries
        if self._steps is None:
            async with _handler_connection(self._worker) as conn:
                self._steps = await steps.recorded_async(conn, queries, self.job.id)
        if name in self._steps:
            return self._steps[name]
        result = await steps.call(fn, args, kwargs)
        async with _handler_connection(self._worker) as conn:
            self._steps[name] = await steps.record_async(conn, queries, self.worker_id, self.job, name,
                                                         result)
        return self._steps[name]

    async def sleep_until(self, moment: datetime | str) -> None:
        """Ends this attempt until `moment` unless it has come (then returns at once): the job runs
        again then, without using up an attempt or holding a worker slot meanwhile."""
        steps.sleep_until(moment)


@asynccontextmanager
async def _handler_connection(worker: Worker):
    pool = await worker.handler_pool()
    async with pool.connection() as conn:
        yield conn


class SyncHelpers(_BaseHelpers):
    """Helpers for a plain handler (it runs in a thread, so these block)."""

    __slots__ = ()

    def __init__(self, job: Job, worker: Worker) -> None:
        super().__init__(job, worker)
        self.cancelled = threading.Event()

    @property
    def shutdown(self) -> threading.Event:
        """Set when shutdown begins: `helpers.shutdown.wait(timeout)` or check `.is_set()`."""
        return self._worker.shutdown_thread_event

    def connection(self) -> AbstractContextManager[psycopg.Connection]:
        """`with helpers.connection() as conn:` a pooled autocommit connection."""
        return self._worker.sync_pool().connection()

    @overload
    def add_job(self, identifier: TaskRef[P], payload: P, *, connection: psycopg.Connection | None = None,
                **options: Unpack[AddJobOptions]) -> Job: ...
    @overload
    def add_job(self, identifier: str, payload: Any = None, *, connection: psycopg.Connection | None = None,
                **options: Unpack[AddJobOptions]) -> Job: ...
    def add_job(self, identifier: str | TaskRef[Any], payload: Any = None, *,
                queue_name: str | None = None, run_at: datetime | None = None,
                max_attempts: int | None = None, job_key: str | None = None, priority: int | None = None,
                flags: Sequence[str] | None = None, job_key_mode: JobKeyMode = "replace",
                connection: psycopg.Connection | None = None,
                timeout: float | timedelta | None = None, validate: bool = False,
                retry: RetryPolicy | None = None, meta: dict[str, Any] | None = None,
                depends_on: Sequence[int] | None = None,
                limit_keys: Sequence[str] | None = None) -> Job:
        """Adds a job; pass `connection` to add it inside your own transaction."""
        options = dict(queue_name=queue_name, run_at=run_at, max_attempts=max_attempts, job_key=job_key,
                       priority=priority, flags=flags, job_key_mode=job_key_mode, schema=self.schema,
                       timeout=timeout, validate=validate, retry=retry, meta=meta, depends_on=depends_on,
                       limit_keys=limit_keys)
        if connection is not None:
            return utils.add_job(connection, identifier, payload, **options)
        with self._worker.sync_pool().connection() as conn:
            return utils.add_job(conn, identifier, payload, **options)

    def add_jobs(self, specs: Iterable[JobSpec], *, job_key_preserve_run_at: bool = False,
                 connection: psycopg.Connection | None = None) -> list[Job]:
        if connection is not None:
            return utils.add_jobs(connection, specs, schema=self.schema,
                                  job_key_preserve_run_at=job_key_preserve_run_at)
        with self._worker.sync_pool().connection() as conn:
            return utils.add_jobs(conn, specs, schema=self.schema,
                                  job_key_preserve_run_at=job_key_preserve_run_at)

    def parent_results(self) -> dict[int, Any]:
        """What the jobs this one depends on (add_job's depends_on) returned, by their ids."""
        with self._worker.sync_pool().connection() as conn:
            return steps.parent_results(conn, self._worker.queries, self.job.id)

    def step(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Runs `fn(*args, **kwargs)` unless this job already recorded step `name`; returns the
        recorded result (as JSON gives it back). See pgrun.steps."""
        queries = self._worker.queries
        if self._steps is None:
            with self._worker.sync_pool().connection() as conn:
                self._steps = steps.recorded(conn, queries, self.job.id)
        if name in self._steps:
            return self._steps[name]
        result = fn(*args, **kwargs)
        with self._worker.sync_pool().connection() as conn:
            self._steps[name] = steps.record(conn, queries, self.worker_id, self.job, name, result)
        return self._steps[name]

    def sleep_until(self, moment: datetime | str) -> None:
        """Ends this attempt until `moment` unless it has come (see Helpers.sleep_until)."""
        steps.sleep_until(moment)
