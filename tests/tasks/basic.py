"""Tasks for the worker tests. Each records what it did in pgrun_test_results
(created by the tests), so a test can wait on the database for the outcome."""

from __future__ import annotations

import asyncio
import time

from pgrun import task


def _record(conn, job, note: str = "") -> None:
    conn.execute(
        "insert into pgrun_test_results (job_id, task, attempt, note) values (%s, %s, %s, %s)",
        (job.id, job.task_identifier, job.attempts, note),
    )


@task
async def async_echo(payload, helpers):
    """Async: records the payload's note through a pooled async connection."""
    async with helpers.connection() as conn:
        await conn.execute(
            "insert into pgrun_test_results (job_id, task, attempt, note) values (%s, %s, %s, %s)",
            (helpers.job.id, helpers.job.task_identifier, helpers.job.attempts, payload.get("note", "")),
        )


@task("plain.echo")
def plain_echo(payload, helpers):
    """Plain (runs in a thread): records through a sync pooled connection."""
    with helpers.connection() as conn:
        _record(conn, helpers.job, payload.get("note", ""))


@task
def flaky(payload, helpers):
    """Fails until attempt `succeed_on`, then records success."""
    if helpers.job.attempts < payload.get("succeed_on", 2):
        raise ValueError(f"flaky failure on attempt {helpers.job.attempts}")
    with helpers.connection() as conn:
        _record(conn, helpers.job, "succeeded")


@task
def always_fails(payload, helpers):
    raise RuntimeError("this task always fails")


@task
async def spawner(payload, helpers):
    """Adds `count` async_echo jobs through helpers.add_job."""
    for n in range(payload["count"]):
        await helpers.add_job("async_echo", {"note": f"spawned {n}"})


@task
def sleeper(payload, helpers):
    """Records that it started, then sleeps `seconds` (a plain, uninterruptible thread)."""
    with helpers.connection() as conn:
        _record(conn, helpers.job, "started")
    time.sleep(payload.get("seconds", 1.0))
    with helpers.connection() as conn:
        _record(conn, helpers.job, "finished")


@task
async def async_sleeper(payload, helpers):
    """Records that it started, then waits `seconds` or until shutdown, whichever is first."""
    async with helpers.connection() as conn:
        await conn.execute(
            "insert into pgrun_test_results (job_id, task, attempt, note) values (%s, %s, %s, 'started')",
            (helpers.job.id, helpers.job.task_identifier, helpers.job.attempts))
    try:
        await asyncio.wait_for(helpers.shutdown.wait(), payload.get("seconds", 1.0))
        note = "noticed shutdown"
    except asyncio.TimeoutError:
        note = "finished"
    async with helpers.connection() as conn:
        await conn.execute(
            "insert into pgrun_test_results (job_id, task, attempt, note) values (%s, %s, %s, %s)",
            (helpers.job.id, helpers.job.task_identifier, helpers.job.attempts, note))


@task
def stuck_first_time(payload, helpers):
    """Hangs on its first attempt (the test kills the worker), succeeds on the next."""
    with helpers.connection() as conn:
        _record(conn, helpers.job, "started")
    if helpers.job.attempts == 1:
        time.sleep(3600)
    with helpers.connection() as conn:
        _record(conn, helpers.job, "finished")


@task
def append_to_file(payload, helpers):
    """Appends the payload's n to a file: no database, so killing connections cannot fail it."""
    with open(payload["path"], "a") as out:
        out.write(f"{payload['n']}\n")


@task
def plain_spawner(payload, helpers):
    """A plain task adding a job through the blocking helpers, in its own transaction."""
    with helpers.connection() as conn, conn.transaction():
        helpers.add_job("plain.echo", {"note": "from plain_spawner"}, connection=conn)
