"""Tasks for tests/test_upgrade.py. The *released* schema-1 worker (pgrun 0.1.0,
tests/fixtures) runs them, so they use nothing of pgrun's API: a module-level
`tasks` dict is what every pgrun version reads.

UPGRADE_PROBE_TASKS (comma-separated identifiers) says which tasks this worker
has; each is `hold`. `hold` records "started" in upgrade_probe_log (created by
the test), waits until the file named by the payload's "release" exists, then
records "finished". The test decides when, or whether, a job ends.

At import it prints where `pgrun` came from, so the test can tell the old code
from the new (both say version 0.1.0)."""

from __future__ import annotations

import asyncio
import os
import sys

import psycopg

_pgrun = sys.modules.get("pgrun")
print(f"upgrade_probe: pgrun imported from {getattr(_pgrun, '__file__', None)}", flush=True)


async def _record(job, note: str) -> None:
    async with await psycopg.AsyncConnection.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        await conn.execute(
            "insert into upgrade_probe_log (job_id, task, attempt, worker_pid, note) "
            "values (%s, %s, %s, %s, %s)",
            (job.id, job.task_identifier, job.attempts, os.getpid(), note))


async def hold(payload, helpers):
    """Runs until the test creates the file payload["release"]."""
    await _record(helpers.job, "started")
    release = payload["release"]
    while not os.path.exists(release):
        await asyncio.sleep(0.02)
    await _record(helpers.job, "finished")


tasks = {name: hold for name in os.environ.get("UPGRADE_PROBE_TASKS", "upgrade.hold").split(",") if name}
