"""Running workers from Python.

    # in an asyncio app
    worker = await pgrun.run_async("myapp.tasks", connection=url)
    ...
    stats = await worker.stop()   # graceful: running jobs get shutdown_timeout to finish

    # in a plain (threaded) app: the worker gets its own thread and event loop
    runner = pgrun.run("myapp.tasks", connection=url)
    ...
    runner.stop()

    # in a test: run every runnable job, then return
    stats = pgrun.run_once("myapp.tasks", connection=url)
    assert stats.completed == 1

`tasks` is a module name (or a path to a .py file), a module, or a dict
{identifier: handler}. The keyword options are make_worker's: most are the
`pgrun` command's options under their Python names (connection, schema,
concurrency, poll_interval, prefetch, shutdown_timeout, crontab, and
prepared_statements=False for --no-prepared-statements, listen_connection for
--listen-connection; run_once sets once).
Only Python has events, middleware, forbidden_flags, worker_id, run_migrations and the
tuning knobs heartbeat_interval, heartbeat_timeout and flush_delay. Logging is
the application's to configure (the command's --log-level has no twin here).

`worker.stop()` (or `runner.stop()`) returns the worker's WorkerStats, and
raises the error that stopped the worker if one did; `await worker.wait()`
waits for a worker to stop on its own.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from typing import Any

from . import db
from .events import Events
from .middleware import Middleware
from .tasks import TaskSource, load_tasks
from .worker import Worker, WorkerStats


def make_worker(tasks: TaskSource, *, once: bool = False, connection: str | None = None,
                schema: str = "pgrun", concurrency: int = 10, poll_interval: float = 2.0,
                prefetch: int | None = None, prepared_statements: bool = True,
                shutdown_timeout: float = 10.0, crontab: str | os.PathLike | None = None,
                events: Events | None = None, forbidden_flags: list[str] | None = None,
                worker_id: str | None = None, run_migrations: bool = True,
                listen_connection: str | None = None,
                middleware: Sequence[Middleware] | None = None, **tuning: Any) -> Worker:
    """A Worker, not started; `tuning` passes the heartbeat and flush settings through.
    `middleware`: async callables around every job (middleware.py)."""
    return Worker(
        load_tasks(tasks), conninfo=db.resolve_conninfo(connection), schema=schema,
        concurrency=concurrency, poll_interval=poll_interval, once=once, prefetch=prefetch,
        prepared_statements=prepared_statements, shutdown_timeout=shutdown_timeout, crontab=crontab,
        events=events, forbidden_flags=forbidden_flags, worker_id=worker_id,
        run_migrations=run_migrations, listen_conninfo=listen_connection or "", middleware=middleware,
        **tuning,
    )


async def run_async(tasks: TaskSource, **options: Any) -> Worker:
    """Starts a worker on the running loop and returns it, ready; `await worker.stop()` ends it."""
    worker = make_worker(tasks, **options)
    await worker.start()
    return worker


async def run_once_async(tasks: TaskSource, **options: Any) -> WorkerStats:
    """Runs jobs until none is runnable, then returns what happened."""
    return await make_worker(tasks, once=True, **options).run()


def run_once(tasks: TaskSource, **options: Any) -> WorkerStats:
    """`run_once_async` for code without an event loop (a pytest test, a script)."""
    try:
        asyncio.get_running_loop()
        in_a_loop = True
    except RuntimeError:
        in_a_loop = False
    if in_a_loop:
        raise RuntimeError("run_once() cannot run inside an event loop; "
                           "use `await pgrun.run_once_async(...)`")
    return asyncio.run(run_once_async(tasks, **options))


class Runner:
    """A worker on a thread of its own (for code without an event loop)."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._result: WorkerStats | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=f"pgrun {worker.worker_id}", daemon=True)

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.close()

    async def _serve(self) -> None:
        try:
            await self.worker.start()
        except BaseException as error:
            self._start_error = error
            self._started.set()
            return
        self._started.set()
        try:
            self._result = await self.worker.wait()
        except BaseException as error:
            self._error = error

    def start(self) -> Runner:
        self._thread.start()
        self._started.wait()
        if self._start_error is not None:
            self._thread.join()
            raise self._start_error
        return self

    def stop(self, force: bool = False, timeout: float | None = None) -> WorkerStats:
        """Stops gracefully (running jobs get the shutdown timeout) and waits for the end."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self.worker.request_stop, force)
            except RuntimeError:  # the loop just finished
                pass
        return self.wait(timeout)

    def wait(self, timeout: float | None = None) -> WorkerStats:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"worker {self.worker.worker_id} still running after {timeout} s")
        if self._error is not None:
            raise self._error
        return self._result or self.worker.stats

    @property
    def running(self) -> bool:
        return self._thread.is_alive()


def run(tasks: TaskSource, **options: Any) -> Runner:
    """Starts a worker in a background thread; returns once it is ready. `runner.stop()` ends it."""
    return Runner(make_worker(tasks, **options)).start()
