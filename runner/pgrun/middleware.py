"""Middleware: a chain of async callables around every job's handler.

    async def timing(job, call_next):
        started = time.perf_counter()
        try:
            return await call_next()         # the next middleware, and at the end the handler
        finally:
            metrics.observe(job.task_identifier, time.perf_counter() - started)

    pgrun.run("myapp.tasks", middleware=[timing])

A middleware is `async def middleware(job, call_next)`: it sees the Job, awaits `call_next()` for
what comes after it (the handler's return value, or its exception), and returns the value the
job completes with (or raises: the job fails, as if the handler had raised). The same chain
wraps plain and async handlers; for a plain one, `call_next()` runs it in its thread (and a
ContextVar set by a middleware is seen there), for a process-isolated one in its process.

Order: pgrun's own first (outermost): `log_context`, which puts the job on every log line
(logs.py); then the worker's `middleware` list, first item outermost; then the payload's
validation (typed tasks) and the handler. The chain is built once, when the worker is made.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any, NamedTuple

from .errors import ConfigurationError
from .job import Job

CallNext = Callable[[], Awaitable[Any]]
Middleware = Callable[[Job, CallNext], Awaitable[Any]]
Call = Callable[[Job, Any], Awaitable[Any]]   # (job, its TaskDef) -> the handler's value


class JobContext(NamedTuple):
    """The job a log line was written during (structured logs' fields). A NamedTuple: one is made
    per job, and it costs a fraction of a dataclass."""

    job_id: int
    task: str
    attempt: int
    worker_id: str
    correlation_id: str


# the job the current asyncio task (or a plain handler's thread) runs, and its worker; None
# outside jobs. The JobContext is made only when asked for (current_job()): a job sets a pair.
_running: ContextVar[tuple[Job, Any] | None] = ContextVar("pgrun_running_job", default=None)


def current_job() -> JobContext | None:
    """The job running here (in its handler, a middleware, a plain handler's thread), or None."""
    running = _running.get()
    if running is None:
        return None
    job, worker = running
    return JobContext(job.id, job.task_identifier, job.attempts, worker.worker_id, _correlation_of(job))


def enter_job(job: Job, worker: Any):
    """Marks `job` (of `worker`, which has a worker_id) as running here; returns the token that
    leave_job takes (for code that runs a job outside the worker's tasks: an isolated child)."""
    return _running.set((job, worker))


def leave_job(token) -> None:
    _running.reset(token)


def _correlation_of(job: Job) -> str:
    return (job.meta and job.meta.get("correlation_id")) or str(job.id)
# what jobs added now are correlated by (add_job writes it into their meta), set by correlate();
# inside a job without one, the job's own (correlation_id())
current_correlation_id: ContextVar[str | None] = ContextVar("pgrun_correlation_id", default=None)


@contextlib.contextmanager
def correlate(correlation_id: str) -> Iterator[None]:
    """Jobs added inside this block (in this thread or task) carry this correlation id, e.g. a web
    request's id: `with pgrun.correlate(request_id): utils.add_job(...)`."""
    if not isinstance(correlation_id, str) or not correlation_id:
        raise ValueError(f"a correlation id is a non-empty string (got {correlation_id!r})")
    token = current_correlation_id.set(correlation_id)
    try:
        yield
    finally:
        current_correlation_id.reset(token)


def log_context(worker: Any) -> Middleware:
    """pgrun's own middleware: the job (and its worker) for every line logged during it (its id, task,
    attempt, worker id and correlation id: its meta's, else its own id; jobs it adds carry it on)."""
    async def pgrun_log_context(job: Job, call_next: CallNext) -> Any:
        # (Execution sets the same context itself when the worker has no middleware)
        token = enter_job(job, worker)
        try:
            return await call_next()
        finally:
            # (the task that runs the next job is made from this context: Execution.start)
            leave_job(token)
    return pgrun_log_context


def correlation_id() -> str | None:
    """What a job added now is correlated by: pgrun.correlate's, else the running job's."""
    given = current_correlation_id.get()
    if given is not None:
        return given
    running = _running.get()
    return None if running is None else _correlation_of(running[0])


def check(middleware: Sequence[Middleware] | None) -> tuple[Middleware, ...]:
    chain = tuple(middleware or ())
    for item in chain:
        if not (inspect.iscoroutinefunction(item) or inspect.iscoroutinefunction(type(item).__call__)):
            raise ConfigurationError(f"middleware {item!r} is not async: write it as "
                                     "`async def middleware(job, call_next): return await call_next()`")
    return chain


def compose(middleware: Sequence[Middleware], inner: Call) -> Call:
    """One call that runs `middleware` in order around `inner`."""
    call = inner
    for item in reversed(middleware):
        call = _link(item, call)
    return call


def _link(item: Middleware, after: Call) -> Call:
    async def call(job: Job, taskdef: Any) -> Any:
        return await item(job, lambda: after(job, taskdef))
    return call
