"""The chaos driver's task (tests/chaos/driver.py): each run of a job writes one row
(job id, attempt, worker, pid, when it started and ended) to chaos_runs, then waits
a few milliseconds, so that faults find attempts in the middle of their run."""

from __future__ import annotations

import asyncio
import os
import time

from pgrun import task

RUNS_TABLE = """
create table if not exists chaos_runs (
  id bigserial primary key,
  job_id bigint not null,
  attempt int not null,
  worker text not null,
  pid int not null,
  started_at timestamptz not null,
  at timestamptz not null default clock_timestamp()
)
"""


@task("chaos.run")
async def run(payload, helpers):
    started = time.time()
    job = helpers.job
    async with helpers.connection() as conn:
        await conn.execute(
            "insert into chaos_runs (job_id, attempt, worker, pid, started_at) "
            "values (%s, %s, %s, %s, to_timestamp(%s))",
            (job.id, job.attempts, helpers.worker_id, os.getpid(), started))
    # between the record and the completion: a kill here makes a duplicate
    await asyncio.sleep((job.id % 7) / 1000)


@task("chaos.noop")
async def noop(payload, helpers):
    """Does nothing (bench/bloat.py: the queue's own cost)."""
