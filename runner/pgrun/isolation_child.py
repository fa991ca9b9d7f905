"""The child side of process isolation (see isolation.py): a loop that runs one
handler call at a time, sent over a pipe, and sends back its log lines and its
result or error.

SIGTERM sets `helpers.cancelled` (nothing is raised: the handler decides how to
stop, as a plain handler in a thread does), SIGUSR1 sets `helpers.shutdown`,
SIGINT is ignored (a Ctrl-C in the terminal reaches the whole process group;
the worker decides what its children do). The two signals are blocked in every
thread and taken by one thread of the child's own (sigwait), which sets the
events: an Event set from a signal handler deadlocks when the signal lands
while the handler's thread holds that Event's lock, at the start of its wait().
"""

from __future__ import annotations

import importlib
import logging
import pickle
import resource
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from .helpers import JobLogger
from .job import Job, JobSpec
from .middleware import enter_job, leave_job

# Messages to the parent: ("ready",) once started; per call ("log", logger name, level, text,
# extra fields) any number of times, then
# ("ok", value) or ("error", pickled exception or None, first line, traceback text, memory).

_events = {"cancelled": threading.Event(), "shutdown": threading.Event()}


class _PipeHandler(logging.Handler):
    """Sends each record's text to the parent, which logs it under the same logger."""

    def __init__(self, send) -> None:
        super().__init__()
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            fields = {name: getattr(record, name) for name in ("job_id", "task") if hasattr(record, name)}
            self._send(("log", record.name, record.levelno, text, fields))
        except Exception:  # a log line must never fail the handler
            self.handleError(record)


class ProcessHelpers:
    """What a handler isolated in a process gets: the plain handler's helpers that a
    process can have. `connection()` and `add_job()` open a connection of their own."""

    def __init__(self, job: Job, context: dict[str, Any]) -> None:
        self.job = job
        self.worker_id: str = context["worker_id"]
        self.schema: str = context["schema"]
        self._conninfo: str = context["conninfo"]
        self.cancelled: threading.Event = _events["cancelled"]
        self.shutdown: threading.Event = _events["shutdown"]
        self.logger = JobLogger(logging.getLogger("pgrun.task"),
                                {"job_id": job.id, "task": job.task_identifier})

    @property
    def shutting_down(self) -> bool:
        return self.shutdown.is_set()

    @contextmanager
    def connection(self):
        """`with helpers.connection() as conn:` a new autocommit connection, closed at the end."""
        from . import db

        conn = db.connect(self._conninfo)
        try:
            yield conn
        finally:
            conn.close()

    def add_job(self, identifier: str, payload: Any = None, *, connection=None, **options: Any) -> Job:
        """Adds a job (the options of pgrun.add_job); pass `connection` for your own transaction."""
        from . import utils

        if connection is not None:
            return utils.add_job(connection, identifier, payload, schema=self.schema, **options)
        with self.connection() as conn:
            return utils.add_job(conn, identifier, payload, schema=self.schema, **options)

    def add_jobs(self, specs: Iterable[JobSpec], *, job_key_preserve_run_at: bool = False,
                 connection=None) -> list[Job]:
        from . import utils

        if connection is not None:
            return utils.add_jobs(connection, specs, schema=self.schema,
                                  job_key_preserve_run_at=job_key_preserve_run_at)
        with self.connection() as conn:
            return utils.add_jobs(conn, specs, schema=self.schema,
                                  job_key_preserve_run_at=job_key_preserve_run_at)

    def parent_results(self) -> dict[int, Any]:
        """What the jobs this one depends on returned, by their ids."""
        from . import queries, steps

        with self.connection() as conn:
            return steps.parent_results(conn, queries.for_schema(self.schema), self.job.id)

    def step(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A durable step (see pgrun.steps): `fn` runs unless this job recorded step `name`."""
        from . import queries, steps

        q = queries.for_schema(self.schema)
        with self.connection() as conn:
            done = steps.recorded(conn, q, self.job.id)
            if name in done:
                return done[name]
            result = fn(*args, **kwargs)
            return steps.record(conn, q, self.worker_id, self.job, name, result)

    def sleep_until(self, moment: datetime | str) -> None:
        """Ends this attempt until `moment` unless it has come (a snooze)."""
        from . import steps

        steps.sleep_until(moment)


def child_main(conn, sys_path: list[str], log_level: int) -> None:
    """The child's whole life: calls until the parent sends None or goes away."""
    for entry in reversed(sys_path):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    send_lock = threading.Lock()   # a handler's own threads may log too

    def send(message) -> None:
        with send_lock:
            conn.send(message)

    root = logging.getLogger()
    root.handlers[:] = [_PipeHandler(send)]
    root.setLevel(log_level)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # before any other thread starts, so that every thread inherits the mask
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALLED)
    threading.Thread(target=_take_signals, name="pgrun-child-signals", daemon=True).start()
    send(("ready",))
    while True:
        try:
            call = conn.recv()
        except (EOFError, OSError):
            return
        if call is None:
            return
        send(_run(call))


_SIGNALLED = {signal.SIGTERM, signal.SIGUSR1}


def _take_signals() -> None:
    while True:
        number = signal.sigwait(_SIGNALLED)
        _events["cancelled" if number == signal.SIGTERM else "shutdown"].set()


def _run(call: dict[str, Any]) -> tuple:
    try:
        return _call(call)
    finally:
        # a fresh event for the next call; not at the start of this one, or a SIGTERM sent
        # just after the call was would be lost
        _events["cancelled"] = threading.Event()


def _call(call: dict[str, Any]) -> tuple:
    if call["shutting_down"]:
        _events["shutdown"].set()
    limit = call["memory_limit_mb"]
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    try:
        handler = _resolve(call["module"], call["qualname"])
        helpers = ProcessHelpers(Job(**call["job"]), call["context"])
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit * 1024 * 1024, hard))
        # the job, as pgrun's log-context middleware sets it in the worker: jobs the handler adds
        # carry its correlation id (and a reused child forgets it after the call)
        running = enter_job(helpers.job, helpers)
        try:
            value = handler(call["payload"], helpers)
        finally:
            leave_job(running)
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    except BaseException as error:  # SystemExit and KeyboardInterrupt fail the job, not the child
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        return _error(error, memory=limit is not None and isinstance(error, MemoryError))
    try:
        pickle.dumps(value)
    except Exception as unpicklable:
        return _error(TypeError(f"the handler returned a value that cannot be sent back from its process: "
                                f"{type(unpicklable).__name__}: {unpicklable}"), memory=False)
    return ("ok", value)


def _resolve(module: str, qualname: str):
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _error(error: BaseException, *, memory: bool) -> tuple:
    tb = error.__traceback__
    if tb is not None and tb.tb_next is not None:
        tb = tb.tb_next   # start at the handler, not at _run
    trace = "".join(traceback.format_exception(type(error), error, tb))
    try:
        message = str(error)
    except Exception:
        message = "<str() of the error raised>"
    first = f"{type(error).__name__}: {message}" if message else type(error).__name__
    error.__traceback__ = None
    try:
        pickled = pickle.dumps(error)
        pickle.loads(pickled)
    except Exception:
        pickled = None
    return ("error", pickled, first, trace, memory)
