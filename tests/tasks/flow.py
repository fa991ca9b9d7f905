"""Tasks for the flow-control tests (tests/test_flow_control.py). Each records in
pgrun_test_results when its attempt was claimed (the job's locked_at, the database's time of
the claim) and when it ran, on its own pooled connection."""

from __future__ import annotations

import asyncio

from pgrun import RateLimited, task


async def _record(helpers, note: str) -> None:
    async with helpers.connection() as conn:
        await conn.execute(
            "insert into pgrun_test_results (job_id, task, attempt, note, at) values (%s, %s, %s, %s, %s)",
            (helpers.job.id, helpers.job.task_identifier, helpers.job.attempts, note, helpers.job.locked_at))


@task
async def hold(payload, helpers):
    """Runs payload['seconds'] (default 0.2), recording its start and its end."""
    await _record(helpers, "start")
    await asyncio.sleep((payload or {}).get("seconds", 0.2))
    async with helpers.connection() as conn:
        await conn.execute(
            "insert into pgrun_test_results (job_id, task, attempt, note) values (%s, %s, %s, 'end')",
            (helpers.job.id, helpers.job.task_identifier, helpers.job.attempts))


@task
async def quick(payload, helpers):
    """Records its start (when payload['record'] is true, else nothing) and returns."""
    if (payload or {}).get("record", True):
        await _record(helpers, "start")


@task
async def provider(payload, helpers):
    """Calls a provider: the job with payload {'answer': 429} meets its limit once (its first
    run raises pgrun.RateLimited for payload['key'] with payload['retry_after'])."""
    payload = payload or {}
    async with helpers.connection() as conn:
        cursor = await conn.execute("select count(*) from pgrun_test_results where job_id = %s",
                                    (helpers.job.id,))
        runs = (await cursor.fetchone())[0]
    await _record(helpers, "start")
    if payload.get("answer") == 429 and runs == 0:
        raise RateLimited(payload["key"], retry_after=payload["retry_after"])
