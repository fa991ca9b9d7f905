"""Tasks for the fault regression tests (tests/test_fault_*.py) that run real
`pgrun` processes. Each records in pgrun_test_results what it did."""

from __future__ import annotations

import asyncio
import os

from pgrun import task

POISON = {
    "nul": "a message with a NUL byte here: \x00 and after it",
    "surrogate": "a message with a lone surrogate here: \ud800 and after it",
}


async def _record(helpers, note: str) -> None:
    async with helpers.connection() as conn:
        await conn.execute(
            "insert into pgrun_test_results (job_id, task, attempt, note) values (%s, %s, %s, %s)",
            (helpers.job.id, helpers.job.task_identifier, helpers.job.attempts, note))


@task
async def gated(payload, helpers):
    """Records 'started', waits until the file payload['gate'] exists, records 'finished'."""
    await _record(helpers, "started")
    while not os.path.exists(payload["gate"]):
        await asyncio.sleep(0.02)
    await _record(helpers, "finished")


@task
def poison(payload, helpers):
    """Fails with an error whose text PostgreSQL cannot store as it is (payload['kind'])."""
    raise RuntimeError(POISON[payload["kind"]])


@task
async def note(payload, helpers):
    """Records payload['note']."""
    await _record(helpers, payload.get("note", ""))


@task
async def gated_outcome(payload, helpers):
    """Records 'started', waits until the file payload['gate'] + '.<attempt>' exists, writes
    that name + '.ended', then fails if payload['fail'], else completes: its end needs no
    connection of its own."""
    await _record(helpers, "started")
    gate = f"{payload['gate']}.{helpers.job.attempts}"
    while not os.path.exists(gate):
        await asyncio.sleep(0.02)
    open(f"{gate}.ended", "w").close()
    if payload.get("fail"):
        raise RuntimeError(f"attempt {helpers.job.attempts} fails")
