"""Handlers for process isolation (tests/test_isolation.py): module-level
functions a child process can import."""

from __future__ import annotations

import os
import signal
import time

from pgrun import task


class Refused(Exception):
    """An error of the handler's own."""


@task(isolation="process")
def echo(payload, helpers):
    helpers.logger.info("echoing %s", payload)
    return {"payload": payload, "job": helpers.job.id, "pid": os.getpid()}


@task(isolation="process")
def fails(payload, helpers):
    raise Refused(f"no thanks: {payload['why']}")


@task(isolation="process")
def waits_for_cancel(payload, helpers):
    """Returns when its stop arrives (SIGTERM sets helpers.cancelled)."""
    return {"cancelled": helpers.cancelled.wait(60)}


@task(isolation="process")
def ignores_stops(payload, helpers):
    """Ignores SIGTERM and sleeps: only SIGKILL ends it. Creates payload["ready"] once it does."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with open(payload["ready"], "w"):
        pass
    time.sleep(3600)


@task
def plain_pid(payload, helpers):
    """Not marked for isolation: where it runs depends on the worker's isolation."""
    return {"pid": os.getpid()}


@task(isolation="process", memory_limit_mb=200)
def hog(payload, helpers):
    """Asks for far more than its limit."""
    blocks = []
    for _ in range(64):
        blocks.append(bytearray(50 * 1024 * 1024))
    return len(blocks)


@task(isolation="process")
def dies(payload, helpers):
    os.kill(os.getpid(), signal.SIGKILL)


@task(isolation="process")
def adds_a_job(payload, helpers):
    """Uses its own connection: adds a job and records its result."""
    job = helpers.add_job("echo", {"from": helpers.job.id})
    with helpers.connection() as conn:
        conn.execute("insert into pgrun_test_results (job_id, task, attempt, note) values (%s, %s, %s, %s)",
                     (helpers.job.id, helpers.job.task_identifier, helpers.job.attempts, f"added {job.id}"))
    return {"added": job.id, "pid": os.getpid()}


@task(isolation="process")
def sizes(payload, helpers):
    """The child's address space and resident memory (kB), from /proc."""
    with open("/proc/self/status") as status:
        lines = dict(line.split(":", 1) for line in status)
    return {name: int(lines[name].split()[0]) for name in ("VmSize", "VmRSS")}


@task(isolation="process")
def waits_for_shutdown(payload, helpers):
    """Returns when the worker's shutdown begins (SIGUSR1 sets helpers.shutdown)."""
    with open(payload["ready"], "w"):
        pass
    return {"shutdown": helpers.shutdown.wait(60), "shutting_down": helpers.shutting_down}


def spins_until_shutdown(payload, helpers):
    """Polls helpers.shutdown in a tight loop: the signal that sets it nearly always lands while
    this thread holds the event's lock (a deadlock when a signal handler sets the event)."""
    with open(payload["ready"], "w"):
        pass
    polls = 0
    while not helpers.shutdown.wait(0):
        polls += 1
    return {"shutdown": True, "polled": polls > 0}
