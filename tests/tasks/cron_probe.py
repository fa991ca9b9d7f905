"""A task for the cron tests: records the tick it was enqueued for (`_cron.ts`)
in pgrun_test_results, so a test can count runs per tick in the database."""

from __future__ import annotations

from pgrun import task


@task
async def cron_probe(payload, helpers):
    async with helpers.connection() as conn:
        await conn.execute(
            "insert into pgrun_test_results (job_id, task, attempt, note) values (%s, %s, %s, %s)",
            (helpers.job.id, helpers.job.task_identifier, helpers.job.attempts, payload["_cron"]["ts"]),
        )
