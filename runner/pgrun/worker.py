"""A worker: a handful of loops on one event loop, each in its own module.

- the lease (lease.py) registers the worker and beats on a connection of its
  own; its row is the worker's lease on every job it runs;
- the fetcher (fetcher.py) claims jobs in batches into a local buffer;
- execution (execution.py) runs them in the free slots, async or in threads;
- outcomes (outcomes.py) writes completions, failures and give-backs in batches;
- the listener (listener.py) turns NOTIFY into nudges;
- maintenance (maintenance.py) and, with a crontab, the cron scheduler.

Start-up (startup.py) checks the schema, opens the connections and registers before any
loop runs. Shutdown is one path (`_lifecycle`, shutdown.py): stop claiming, give the buffer back, let
running jobs finish within the grace period, interrupt the rest, record every
outcome, and then, whatever happened, stop every loop, unregister and close.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import db, queries, shutdown, startup
from .cancels import CancelWatch
from .cron.in_worker import run_scheduler
from .errors import ConfigurationError, PgrunError, WorkerRestartRequired
from .events import Events
from .execution import Execution
from .fetcher import Fetcher
from .fmt import duration, reason
from .lease import RETRYABLE, Lease
from .listener import Listener
from .maintenance import Maintenance
from .middleware import Middleware
from .outcomes import Outcomes
from .tasks import TaskDef

log = logging.getLogger("pgrun.worker")


@dataclass
class WorkerStats:
    completed: int = 0
    failed: int = 0              # failed attempts, the permanent ones included
    permanently_failed: int = 0
    interrupted: int = 0         # failed because the worker shut down under them
    given_back: int = 0          # claimed, never started, returned at shutdown
    lost: int = 0                # finished, but the attempt was no longer this worker's
    cancelled: int = 0           # ended cancelled: cancel_jobs was called while they ran
    timed_out: int = 0           # stopped past their timeout (then retried by their policy)
    abandoned_threads: int = 0   # plain handlers that ignored a stop past the grace: slot freed
    snoozed: int = 0             # ended by pgrun.Snooze: run again later, the attempt not counted


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
        maintenance_interval: float = 10.0,
        stop_grace: float = 10.0,
        max_abandoned_threads: int | None = None,
        isolation: str = "thread",
        listen_conninfo: str = "",
        middleware: Sequence[Middleware] | None = None,
    ) -> None:
        if not tasks:
            raise ConfigurationError("a worker needs at least one task")
        if concurrency < 1:
            raise ConfigurationError(f"concurrency must be at least 1 (got {concurrency})")
        if poll_interval <= 0:
            raise ConfigurationError(f"poll interval must be positive (got {poll_interval})")
        if shutdown_timeout < 0:
            raise ConfigurationError(f"shutdown timeout must not be negative (got {shutdown_timeout})")
        if stop_grace < 0:
            raise ConfigurationError(f"stop grace must not be negative (got {stop_grace})")
        if max_abandoned_threads is not None and max_abandoned_threads < 0:
            raise ConfigurationError(
                f"max_abandoned_threads must not be negative (got {max_abandoned_threads})")
        if heartbeat_interval <= 0 or heartbeat_timeout < 2 * heartbeat_interval:
            raise ConfigurationError("heartbeat_timeout must be at least twice heartbeat_interval "
                                     f"(got {heartbeat_timeout} and {heartbeat_interval})")
        self.worker_id = worker_id or make_worker_id()
        if len(self.worker_id) < 10:
            raise ConfigurationError("worker_id must be at least 10 characters")
        self._base_id = self.worker_id
        self.schema = schema
        self.events = events or Events()
        self.queries = queries.for_schema(schema)
        self._tasks = dict(tasks)
        self.task_ids = sorted(self._tasks)
        self.forbidden_flags = forbidden_flags
        self.conninfo = conninfo
        self._concurrency = concurrency
        self.prepare = bool(prepared_statements)
        self._shutdown_timeout = shutdown_timeout
        self._crontab = crontab
        self._run_migrations = run_migrations
        self._once = once
        self.stats = WorkerStats()

        self.execution = Execution(self, self._tasks, concurrency, stop_grace=stop_grace,
                                   max_abandoned_threads=max_abandoned_threads, isolation=isolation,
                                   middleware=middleware)
        self.outcomes = Outcomes(self, flush_delay=flush_delay, batch=max(concurrency, 1))
        self.fetcher = Fetcher(self, prefetch=prefetch, poll_interval=poll_interval, once=once)
        self.lease = Lease(conninfo=conninfo, queries=self.queries, worker_id=self.worker_id,
                           info={"tasks": self.task_ids, "concurrency": concurrency, "schema": schema},
                           interval=heartbeat_interval, timeout=heartbeat_timeout, prepare=self.prepare,
                           on_lost=self.lease_lost, on_rescue=self._on_rescue)
        self.cancels = CancelWatch(self)
        # LISTEN needs a session of its own: behind a transaction pooler, a direct connection
        self.listener = Listener(conninfo=listen_conninfo or conninfo, listen_sql=self.queries.listen,
                                 prepare=self.prepare, on_nudge=self.nudge, on_wake_at=self.wake_in,
                                 on_state=self._on_listen_state, cancel_channel=self.queries.cancel_channel,
                                 on_cancel=self._on_cancel)
        self._maintenance = Maintenance(self, maintenance_interval)

        self._pool: db.AsyncConnectionPool | None = None            # the runner's own, small
        self._handler_pool: db.AsyncConnectionPool | None = None    # handlers' queries, on first use
        self._handler_pool_lock = asyncio.Lock()
        self._sync_pool: db.ConnectionPool | None = None
        self._sync_pool_lock = threading.Lock()
        self._loops: dict[str, asyncio.Task] = {}
        self._lease_generation = 0

        self.shutdown_event = asyncio.Event()
        self.shutdown_thread_event = threading.Event()
        self.stop_requested = asyncio.Event()
        self._force = asyncio.Event()
        self._stopped = asyncio.Event()
        self.stopping = False                 # no more claims, no more starts
        self.forced = False
        self.error: BaseException | None = None
        self.restart_reason: str | None = None   # set when the worker asked to be restarted
        self._started = False
        self._main: asyncio.Task | None = None

    # ------------------------------------------------------------ public

    @property
    def pool(self) -> db.AsyncConnectionPool:
        """The runner's own pool (claims, outcomes, maintenance, cron)."""
        if self._pool is None:
            raise PgrunError("the worker has not started")
        return self._pool

    @property
    def shutting_down(self) -> bool:
        return self.stopping

    @property
    def listening(self) -> bool:
        return self.listener.listening.is_set()

    @property
    def running_jobs(self) -> int:
        return len(self.execution.running)

    @property
    def threads_busy(self) -> bool:
        """True while a plain handler is still running in a thread (after an interrupt)."""
        return self.execution.threads_busy

    async def handler_pool(self) -> db.AsyncConnectionPool:
        """The pool of async handlers' own queries (helpers.connection()), opened on first use."""
        async with self._handler_pool_lock:
            if self._handler_pool is None:
                self._handler_pool = await db.open_pool(
                    self.conninfo, max_size=self._concurrency, min_size=0, name="pgrun-tasks",
                    kwargs={"autocommit": True, "prepare_threshold": 5 if self.prepare else None})
            return self._handler_pool

    def sync_pool(self) -> db.ConnectionPool:
        """A small blocking pool for plain handlers' own queries, opened on first use."""
        with self._sync_pool_lock:
            if self._sync_pool is None:
                self._sync_pool = db.open_sync_pool(self.conninfo, max_size=self._concurrency,
                                                    prepared_statements=self.prepare, name="pgrun-tasks-sync")
            return self._sync_pool

    def nudge(self) -> None:
        self.fetcher.nudge()

    def wake_in(self, seconds: float) -> None:
        self.fetcher.wake_in(seconds)

    def slot_freed(self) -> None:
        self.fetcher.slot_freed()

    async def start(self) -> None:
        """Migrates, connects, registers and starts working; errors here are the user's to see."""
        if self._started:
            raise PgrunError("a worker starts once")
        self._started = True
        scheduler = await startup.connect(self)   # migrate, connect, register (startup.py)
        self.events.emit("worker:start", self.worker_id)
        self._spawn(self.lease.run(), "pgrun heartbeat")
        self._spawn(self.listener.run(), "pgrun listener")
        self._spawn(self.fetcher.run(), "pgrun fetcher")
        self._spawn(self.cancels.run(), "pgrun cancels")
        self._spawn(self.outcomes.run(), "pgrun outcomes")
        self._spawn(self._maintenance.run(), "pgrun maintenance")
        if scheduler is not None:
            self._spawn(run_scheduler(scheduler, self.stop_requested), "pgrun cron")
        self._main = asyncio.create_task(self._lifecycle(), name="pgrun worker")
        try:  # "ready" means notifications reach us (else we poll, and say so)
            await asyncio.wait_for(self.listener.listening.wait(), 5.0)
        except asyncio.TimeoutError:
            log.warning("LISTEN is not established yet; polling every %s meanwhile",
                        duration(self.fetcher._poll_interval))
        names = ", ".join(self.task_ids[:8]) + (", ..." if len(self.task_ids) > 8 else "")
        log.info("worker %s ready: %d task%s (%s), concurrency %d, schema %s%s",
                 self.worker_id, len(self._tasks), "" if len(self._tasks) == 1 else "s", names,
                 self._concurrency, self.schema, ", once" if self._once else "")

    def request_stop(self, force: bool = False) -> None:
        """Begins a graceful stop; with force (or a second call with force), skips the grace period."""
        if force:
            self.forced = True
            self._force.set()
        if not self.stopping:
            self.stopping = True
            self.execution.starting = False
            self.shutdown_event.set()
            self.shutdown_thread_event.set()
            self.execution.shutting_down()
            self.fetcher.wake.set()
            self.stop_requested.set()

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

    def _spawn(self, coro, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._loop_ended)
        self._loops[name] = task

    def _loop_ended(self, task: asyncio.Task) -> None:
        if task.cancelled() or task.exception() is None:
            if task.get_name() == "pgrun fetcher" and self.fetcher.drained and not self.stopping:
                log.info("no runnable jobs left")
                self.request_stop()
            return
        error = task.exception()
        log.critical("%s crashed; stopping the worker", task.get_name(), exc_info=error)
        if self.error is None:
            self.error = error
        self.request_stop(force=True)

    # ------------------------------------------------------------ the lease

    def _on_rescue(self, dead_worker_id: str, released: int) -> None:
        log.warning("worker %s stopped sending heartbeats; released %d of its job(s)", dead_worker_id,
                    released)
        self.events.emit("worker:rescue", self.worker_id,
                         data={"dead_worker_id": dead_worker_id, "released_jobs": released})
        if released:
            self.nudge()

    def _on_cancel(self, worker_id: str) -> None:
        if worker_id == self.worker_id:
            self.cancels.notified()

    def restart(self, why: str) -> None:
        """Stops gracefully and asks to be started again: the pgrun command re-executes itself;
        for an embedding application, wait()/stop() (and Runner.wait/stop) raise
        WorkerRestartRequired, and `restart_reason` says why."""
        if self.restart_reason is None:
            self.restart_reason = why
            if self.error is None:
                self.error = WorkerRestartRequired(why)
            log.error("worker %s restarts: %s", self.worker_id, why)
            self.events.emit("worker:restart", self.worker_id, data={"reason": why})
            self.request_stop()

    def _on_listen_state(self, listening: bool, error: BaseException | None) -> None:
        self.events.emit("worker:listen" if listening else "worker:listen:error", self.worker_id, error=error)

    async def lease_lost(self, why: str) -> None:
        """Our lease is gone (we were presumed dead, or force-unlocked): whatever we hold may
        already run elsewhere. Stop it all, forget it, and come back under a new id."""
        if self.fetcher.paused:
            return  # already on it
        self.fetcher.paused = True
        running, buffered = len(self.execution.running), len(self.execution.buffer)
        log.error("worker %s lost its lease (%s); stopping its %d running job(s) and dropping %d buffered: "
                  "they were released and may run elsewhere", self.worker_id, why, running, buffered)
        self.events.emit("worker:lease:lost", self.worker_id, data={"reason": why})
        self.execution.buffer.clear()
        # async handlers stop now; a thread cannot be stopped, so its job stays running here and
        # is not started again (if it is claimed again, the thread's outcome counts for that claim)
        tasks = self.execution.interrupt_all(threads=False)
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        self.execution.interrupting = False
        dropped = self.outcomes.discard()
        if dropped:
            log.warning("dropped %d outcome(s) of attempts this worker no longer holds", dropped)
        self._lease_generation += 1
        new_id = f"{self._base_id[:100]}-r{self._lease_generation}-{secrets.token_hex(2)}"
        delay = 0.5
        while not self.stopping:
            try:
                await self.lease.register(new_id)
                break
            except RETRYABLE as error:
                log.warning("registering again failed (%s); trying again in %.1f s", reason(error), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.worker_id = new_id
        log.warning("worker registered again as %s", new_id)
        self.fetcher.paused = False
        self.nudge()

    # ------------------------------------------------------------ shutdown

    async def _lifecycle(self) -> None:
        try:
            await self.stop_requested.wait()
            await shutdown.drain(self)
        except BaseException as error:  # a bug in shutdown itself: say so, still end
            log.critical("worker shutdown failed", exc_info=error)
            if self.error is None:
                self.error = error
        finally:
            try:
                await shutdown.close(self)
            except BaseException as error:
                log.critical("closing the worker failed", exc_info=error)
            self._stopped.set()
