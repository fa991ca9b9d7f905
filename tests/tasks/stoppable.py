"""Tasks that run until they are stopped (tests/test_stop_running.py). Each
records in pgrun_test_results what it did, with psycopg on its own connection
for the plain ones (they run in threads)."""

from __future__ import annotations

import asyncio
import os
import time

import psycopg

from pgrun import task


async def _record(helpers, note: str) -> None:
    async with helpers.connection() as conn:
        await conn.execute(
            "insert into pgrun_test_results (job_id, task, attempt, note) values (%s, %s, %s, %s)",
            (helpers.job.id, helpers.job.task_identifier, helpers.job.attempts, note))


def _record_sync(helpers, note: str) -> None:
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "insert into pgrun_test_results (job_id, task, attempt, note) values (%s, %s, %s, %s)",
            (helpers.job.id, helpers.job.task_identifier, helpers.job.attempts, note))


@task
async def waits_async(payload, helpers):
    """Runs until it is cancelled (CancelledError), recording that it was."""
    await _record(helpers, "started")
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        await _record(helpers, f"cancelled, event set: {helpers.cancelled.is_set()}")
        raise


@task
def waits_plain(payload, helpers):
    """Waits on helpers.cancelled, then returns as asked."""
    _record_sync(helpers, "started")
    if helpers.cancelled.wait(3600):
        _record_sync(helpers, "saw helpers.cancelled")


@task(isolation="process")
def waits_process(payload, helpers):
    """waits_plain in a child process (SIGTERM sets helpers.cancelled)."""
    _record_sync(helpers, "started")
    if helpers.cancelled.wait(3600):
        _record_sync(helpers, "saw helpers.cancelled")


@task(isolation="process", timeout=0.5)
def slow_process(payload, helpers):
    """Outlives its task timeout in a child process, ignoring SIGTERM: SIGKILL ends it."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _record_sync(helpers, "started")
    time.sleep(3600)


@task
def ignores_plain(payload, helpers):
    """Ignores every stop: sleeps payload['seconds'] whatever happens."""
    _record_sync(helpers, "started")
    time.sleep(payload["seconds"])
    _record_sync(helpers, "returned at last")


@task(timeout=0.5)
async def slow_async(payload, helpers):
    """Outlives its task timeout."""
    await _record(helpers, "started")
    await asyncio.sleep(3600)


@task("slow_plain", timeout=0.5)
def slow_plain(payload, helpers):
    """Outlives its task timeout, and stops when told."""
    _record_sync(helpers, "started")
    helpers.cancelled.wait(3600)
    _record_sync(helpers, "saw helpers.cancelled")


@task
async def quick(payload, helpers):
    await _record(helpers, "ran")


@task(isolation="process")
def snoozes_process(payload, helpers):
    """Snoozes from a child process (the exception travels back by pickle)."""
    import pgrun

    raise pgrun.Snooze(3600)


@task(isolation="process")
def refuses_process(payload, helpers):
    import pgrun

    raise pgrun.PermanentFailure("refused in its process")
