"""Process isolation: a plain handler's call runs in a child process, which the
worker can stop for real and whose memory it can limit.

    pool = ProcessPool(context={"conninfo": ..., "schema": ..., "worker_id": ...})
    call = await pool.start(handler, payload, job_info, memory_limit_mb=256)
    value = await call.result()        # or raises the handler's error
    how = await call.stop(grace=10)    # SIGTERM (helpers.cancelled is set), then SIGKILL

Children come from a "forkserver" context: the server process is started
clean (exec'd, with pgrun.isolation_child preloaded) and every child forks
from it. Forking the worker itself would copy a process that has threads (the
thread pool, pool workers, the reader threads below): a lock held by another
thread at the fork stays locked forever in the child (logging, psycopg, malloc
arenas), which hangs it at random. "spawn" is also safe but re-imports
everything per child (~10x slower to start).

Idle children are kept (up to `max_idle`) and reused, so a job costs one pipe
round trip plus pickling (about 1 ms) rather than a child's start (about 30 ms
from the fork server, the first one after it starts ~0.3 s). A child that was
stopped, ran out of memory, or ended otherwise than by answering is not reused.
The child imports the handler's module on its first call.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from .errors import HandlerProcessDied, IsolatedHandlerError, MemoryLimitExceeded, TaskModuleError
from .isolation_child import child_main
from .middleware import current_job

log = logging.getLogger("pgrun.worker")

ISOLATIONS = ("thread", "process")
# how a stop ended (ProcessCall.stop)
ENDED = "ended"          # the call had ended before the stop
RETURNED = "returned"    # it ended within the grace, after SIGTERM
KILLED = "killed"        # the grace passed: SIGKILL

_context = multiprocessing.get_context("forkserver")
# The fork server imports these once and every child forks with them imported: the
# program's main module (or else each child would run it again as __mp_main__, as
# multiprocessing does: a script that embeds a worker needs `if __name__ == "__main__"`),
# the child's loop, and the task modules of the first pool (ProcessPool's `preload`).
_PRELOAD = ["__main__", "pgrun.isolation_child"]
_context.set_forkserver_preload(_PRELOAD)


def handler_reference(identifier: str, handler: Callable[..., Any]) -> tuple[str, str]:
    """(module, qualified name) by which a child imports `handler`; TaskModuleError if it cannot."""
    why = None
    module = getattr(handler, "__module__", None)
    qualname = getattr(handler, "__qualname__", None)
    if not inspect.isfunction(handler) or not module or not qualname:
        why = f"it is a {type(handler).__name__}, not a function"
    elif "<lambda>" in qualname or "<locals>" in qualname:
        why = f"{qualname} is a lambda or is defined inside a function"
    elif module == "__main__":
        why = "it is defined in __main__, which a child process cannot import"
    else:
        target: Any = sys.modules.get(module)
        for part in qualname.split("."):
            target = getattr(target, part, None)
        if target is not handler:
            why = f"{module}.{qualname} does not name this function"
    if why is not None:
        raise TaskModuleError(
            f"task {identifier!r} cannot run in a process: {why}; an isolated handler must be a "
            "module-level function of an importable module")
    return module, qualname


def _ending(exitcode: int | None, memory_limit_mb: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = f" ({signal.Signals(-exitcode).name})"
        except ValueError:
            name = ""
        text = f"the handler's process was killed by signal {-exitcode}{name}"
    else:
        text = f"the handler's process exited with code {exitcode} before answering"
    if memory_limit_mb is not None:
        text += f"; its memory limit was {memory_limit_mb} MB"
    return text


class _ChildTraceback(Exception):
    """The traceback of the error, as the child process formatted it."""

    def __str__(self) -> str:
        return "\n" + self.args[0].rstrip()


class _Child:
    def __init__(self) -> None:
        self.conn, child_conn = _context.Pipe()
        # the child sends what either the root logger or the handlers' logger lets through here
        level = min(logging.getLogger().getEffectiveLevel(),
                    logging.getLogger("pgrun.task").getEffectiveLevel())
        self.process = _context.Process(target=child_main, args=(child_conn, list(sys.path), level),
                                        name="pgrun-job", daemon=True)
        self.process.start()
        child_conn.close()
        # its signal handlers are in place once it says so: a SIGTERM before would kill it
        try:
            self.conn.recv()
        except (EOFError, OSError):
            self.process.join()
            raise HandlerProcessDied(_ending(self.process.exitcode, None).replace(
                "before answering", "as it started")) from None

    def close(self, kill: bool = False) -> None:
        if kill and self.process.is_alive():
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.conn.close()


class ProcessCall:
    """One handler call running in a child process."""

    def __init__(self, pool: ProcessPool, child: _Child, memory_limit_mb: int | None) -> None:
        self._pool = pool
        self._child = child
        self._memory_limit_mb = memory_limit_mb
        self._loop = asyncio.get_running_loop()
        self._done: asyncio.Future = self._loop.create_future()
        context = current_job()   # the job's, for the child's log lines (logs.py)
        self._fields = {} if context is None else {
            "job_id": context.job_id, "task": context.task, "attempt": context.attempt,
            "worker_id": context.worker_id, "correlation_id": context.correlation_id}
        self._stopping: asyncio.Task | None = None
        self.signalled = False
        self.pid = child.process.pid

    def _read(self) -> None:
        """In a thread: the child's messages until its answer or its end."""
        conn = self._child.conn
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                self._child.process.join()
                message = ("died", self._child.process.exitcode)
            except Exception as broken:   # an answer that does not unpickle here
                message = ("error", None, f"{type(broken).__name__}: {broken}", "", False)
            if message[0] == "log":
                logging.getLogger(message[1]).log(message[2], "%s", message[3],
                                                  extra={**self._fields, **(message[4] or {})})
                continue
            self._loop.call_soon_threadsafe(self._answer, message)
            return

    def _answer(self, message: tuple) -> None:
        reusable = message[0] == "ok" or (message[0] == "error" and not message[4])
        self._pool._release(self._child, reusable and not self.signalled)
        if not self._done.done():
            self._done.set_result(message)

    async def result(self) -> Any:
        """The handler's return value, or its error raised here; a cancel kills the child."""
        try:
            message = await asyncio.shield(self._done)
        except asyncio.CancelledError:
            self.signalled = True
            if self._child.process.is_alive():
                self._child.process.kill()
            raise
        if message[0] == "ok":
            return message[1]
        if message[0] == "died":
            raise HandlerProcessDied(_ending(message[1], self._memory_limit_mb))
        _, pickled, first, trace, memory = message
        if memory:
            raise MemoryLimitExceeded(f"the job exceeded its memory limit of {self._memory_limit_mb} MB "
                                      f"({first})") from _ChildTraceback(trace)
        try:
            error = pickle.loads(pickled) if pickled is not None else IsolatedHandlerError(first)
        except Exception:
            error = IsolatedHandlerError(first)
        raise error from _ChildTraceback(trace)

    def shutdown(self) -> None:
        """Sets the child's helpers.shutdown (SIGUSR1)."""
        if not self._done.done():
            self._signal(signal.SIGUSR1)

    def request_stop(self, grace: float) -> None:
        """stop() in the background (from code that cannot await)."""
        if self._stopping is None:
            self._stopping = self._loop.create_task(self.stop(grace), name=f"stop pid {self.pid}")

    async def stop(self, grace: float) -> str:
        """SIGTERM (the handler's helpers.cancelled is set), up to `grace` seconds for the call
        to end, then SIGKILL. Returns ENDED, RETURNED or KILLED."""
        if self._done.done():
            return ENDED
        self.signalled = True
        self._signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(self._done), grace)
            return RETURNED
        except asyncio.TimeoutError:
            pass
        self._child.process.kill()
        await asyncio.shield(self._done)
        return KILLED

    def _signal(self, number: int) -> None:
        try:
            os.kill(self.pid, number)
        except ProcessLookupError:
            pass


class ProcessPool:
    """Child processes for isolated calls; up to `max_idle` idle ones are kept for reuse."""

    def __init__(self, context: dict[str, Any], max_idle: int = 4, preload: tuple[str, ...] = ()) -> None:
        # effective only before the fork server starts (the first child of the process)
        _context.set_forkserver_preload(list(dict.fromkeys([*_PRELOAD, *preload])))
        self._context = context          # what helpers need: conninfo, schema, worker_id
        self.max_idle = max_idle
        self._idle: list[_Child] = []
        self.started = 0                 # children started, for tests and stats
        self.shutting_down = False
        self._closed = False

    async def start(self, handler: Callable[..., Any], payload: Any, job_info: dict[str, Any], *,
                    memory_limit_mb: int | None = None) -> ProcessCall:
        """Starts `handler(payload, helpers)` in a child; await `.result()` on what it returns."""
        module, qualname = handler_reference(job_info.get("task_identifier", "?"), handler)
        if memory_limit_mb is not None and (isinstance(memory_limit_mb, bool) or memory_limit_mb < 1):
            raise ValueError(f"a memory limit is a number of MB above 0 (got {memory_limit_mb!r})")
        call_message = {"module": module, "qualname": qualname, "payload": payload, "job": job_info,
                        "context": self._context, "memory_limit_mb": memory_limit_mb,
                        "shutting_down": self.shutting_down}
        while True:
            if self._idle:
                child = self._idle.pop()
            else:
                child = await asyncio.get_running_loop().run_in_executor(None, _Child)
                self.started += 1
            try:
                child.conn.send(call_message)
                break
            except (BrokenPipeError, ConnectionResetError):  # an idle child that died: the next
                child.close(kill=True)
        call = ProcessCall(self, child, memory_limit_mb)
        threading.Thread(target=call._read, name=f"pgrun-child-{call.pid}", daemon=True).start()
        return call

    def _release(self, child: _Child, reusable: bool) -> None:
        if reusable and not self._closed and len(self._idle) < self.max_idle:
            self._idle.append(child)
        else:
            child.close(kill=not reusable)

    def close(self) -> None:
        """Ends the idle children (running calls end with their jobs)."""
        self._closed = True
        idle, self._idle = self._idle, []
        for child in idle:
            child.close()


async def run_in_process(handler: Callable[..., Any], payload: Any, job_info: dict[str, Any], *,
                         memory_limit_mb: int | None = None, pool: ProcessPool | None = None) -> Any:
    """One call in a child process (of `pool`, else a fresh one); its value or its error."""
    own = pool is None
    if pool is None:
        pool = ProcessPool({"conninfo": "", "schema": "pgrun", "worker_id": "pgrun-isolated"}, max_idle=0)
    try:
        call = await pool.start(handler, payload, job_info, memory_limit_mb=memory_limit_mb)
        return await call.result()
    finally:
        if own:
            pool.close()
