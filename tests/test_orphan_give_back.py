"""After a claim whose answer was lost the fetcher gives back the attempts it holds and never
saw. One whose row an application transaction locks at that moment is answered 'busy'; it
used to be forgotten, and its job stayed running under the live worker until it stopped.
Now it is given back at the next claim, and runs."""

from __future__ import annotations

import asyncio

from fault_support import db_wait, embedded, holding
from support import scalar


def test_an_orphan_whose_row_is_locked_is_given_back_once_it_is_free(dsn, conn):
    runs: list[tuple[int, int]] = []

    async def work(payload, helpers):
        runs.append((helpers.job.id, helpers.job.attempts))

    async def main():
        async with embedded({"work": work}, dsn, concurrency=1) as worker:
            fetcher = worker.fetcher
            give_back, attempts = fetcher._give_back_orphans, []

            async def counted(conn_):
                await give_back(conn_)
                attempts.append(fetcher._recover)

            fetcher._give_back_orphans = counted
            # a claim whose answer never reached the worker: the job is held under its id
            with conn.transaction():
                job_id = scalar(conn, "select id from pgrun.add_job('work')")
                assert scalar(conn, "select count(id) from pgrun.claim_jobs(%s, 1, array['work'])",
                              (worker.worker_id,)) == 1
            with holding(dsn, "select from pgrun._private_jobs where id = %s for update", (job_id,)):
                fetcher._recover = True
                worker.nudge()
                await db_wait(lambda: attempts, message="a give-back while the row is locked")
                assert attempts[0] is True, "a busy orphan must be given back later"
            worker.nudge()
            await db_wait(lambda: scalar(conn, "select count(*) from pgrun.jobs") == 0,
                          message="the orphan to be given back and run")
            return job_id

    job_id = asyncio.run(main())
    assert runs == [(job_id, 1)]   # the lost claim's attempt was given back, not counted
