"""Events a user can subscribe to, for logging, metrics and hooks.

    events = Events()

    @events.on("job:success")
    def count(event):
        metrics.incr("jobs.ok", tags={"task": event.job.task_identifier})

Listeners get one `Event`. A plain listener runs inline on the worker's event
loop (keep it quick); an `async` one is scheduled as a task. A listener that
raises is logged and ignored: hooks never break the worker. Subscribe to "*"
to receive every event.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .job import Job

log = logging.getLogger("pgrun.events")

EVENT_NAMES = frozenset({
    "worker:start",         # claiming begins
    "worker:shutdown",      # stopping begins (signal, stop(), or --once found no more jobs)
    "worker:stop",          # the worker is gone; `error` is set if it died of one
    "worker:listen",        # the LISTEN connection is (again) established
    "worker:listen:error",  # the LISTEN connection was lost; `error` says why
    "worker:rescue",        # jobs of a dead worker released; data: dead_worker_id, released_jobs
    "worker:lease:lost",    # this worker was presumed dead (or force-unlocked): its jobs were
                            # released; it stops them and registers again; data: reason
    "job:start",            # a handler is about to run
    "job:success",          # a handler returned (completion is written in the next batch)
    "job:error",            # a handler raised (or was interrupted); the job will be failed
    "job:failed",           # ... and that was its last attempt: no more retries
    "job:timeout",          # an attempt ran past its timeout and was stopped (retried by its policy)
    "job:snooze",           # a handler raised pgrun.Snooze; data: seconds
    "job:dead",             # the database answered that the job failed for good (its last attempt,
                            # or a PermanentFailure); error, data: message, attempts, max_attempts
    "worker:restart",       # the worker stops to be restarted; data: reason
})


@dataclass(slots=True)
class Event:
    name: str
    worker_id: str
    job: Job | None = None
    duration: float | None = None  # seconds the handler ran
    error: BaseException | None = None
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[Event], Any]


class Events:
    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}
        self._background: set[asyncio.Task] = set()

    def on(self, name: str, listener: Listener | None = None):
        """Subscribe `listener` to `name`; without a listener, works as a decorator."""
        if name != "*" and name not in EVENT_NAMES:
            raise ValueError(f"unknown event {name!r}; known: {', '.join(sorted(EVENT_NAMES))}, *")
        if listener is None:
            def decorator(fn: Listener) -> Listener:
                self.on(name, fn)
                return fn
            return decorator
        self._listeners.setdefault(name, []).append(listener)
        return listener

    def off(self, name: str, listener: Listener) -> None:
        listeners = self._listeners.get(name, [])
        if listener in listeners:
            listeners.remove(listener)
        if not listeners:
            self._listeners.pop(name, None)

    def wants(self, name: str) -> bool:
        """True if emitting `name` would reach anyone (lets the hot path skip building events)."""
        return bool(self._listeners) and (name in self._listeners or "*" in self._listeners)

    def emit(self, name: str, worker_id: str, **fields: Any) -> None:
        if not self.wants(name):
            return
        event = Event(name, worker_id, **fields)
        for listener in (*self._listeners.get(name, ()), *self._listeners.get("*", ())):
            try:
                result = listener(event)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._background.add(task)
                    task.add_done_callback(self._finished)
            except Exception:
                log.warning("listener %r for %s raised; ignored", listener, name, exc_info=True)

    def _finished(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("async listener raised; ignored", exc_info=task.exception())

    async def drain(self, timeout: float = 1.0) -> None:
        """Waits (a little) for async listeners still running."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout)
