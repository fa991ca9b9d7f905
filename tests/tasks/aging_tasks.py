"""Tasks for tests/test_priority_aging.py: a high-priority load that never runs out (each
job that runs adds the next one before it completes) and low-priority jobs that do nothing."""

from __future__ import annotations

import asyncio

from pgrun import task


@task("aging.high")
async def high(payload, helpers):
    await helpers.add_job("aging.high", None, priority=0)
    await asyncio.sleep(0.02)   # the work: keeps the loop at ~50 jobs/s per slot, not a CPU spin


@task("aging.low")
async def low(payload, helpers):
    pass
