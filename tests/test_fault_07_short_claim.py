"""Fault 7 of issue 8, the runner's side: a claim came back short while runnable jobs
existed, and the runner read a short claim as "drained" and slept.

The scenario: a named queue whose next job has a better priority than the
unqueued jobs waiting, and another session holding that queue's row (as a
claimer or completer of that queue does for a moment, here for the whole
test). Schema 1's claim counted the locked queue's head against its limit, so
every claim came back one short, and the worker then slept until the next
nudge or the 60 s poll. Now a locked queue is stepped over: every claim is
full while unqueued jobs remain, and the worker drains them at once.
"""

from __future__ import annotations

import asyncio

from fault_support import add_many, db_wait, embedded, holding
from support import scalar

UNQUEUED = 60
CONCURRENCY = 4


def test_a_locked_better_priority_queue_does_not_shorten_claims_or_stall_the_worker(dsn, conn):
    ran: list[int] = []

    async def work(payload, helpers):
        ran.append(helpers.job.id)
        await asyncio.sleep(0.02)

    queued = scalar(conn, "select id from pgrun.add_job('work', queue_name => 'better', priority => -10)")
    add_many(conn, UNQUEUED, "work", priority=0)
    claims: list[tuple[int, int]] = []  # (asked, got) of each claim

    async def main():
        with holding(dsn, "select from pgrun._private_job_queues where queue_name = 'better' "
                          "for no key update"):
            async with embedded({"work": work}, dsn, concurrency=CONCURRENCY) as worker:
                claim = worker.fetcher._claim

                async def counted(conn_, want):
                    jobs, due_in, look_again = await claim(conn_, want)
                    claims.append((want, len(jobs)))
                    return jobs, due_in, look_again

                worker.fetcher._claim = counted
                worker.nudge()  # claims after the spy is in place see the same jobs as before
                await db_wait(lambda: scalar(conn, "select count(*) from pgrun.jobs "
                                                   "where queue_name is null") == 0,
                              timeout=10, message="the unqueued jobs to drain while the queue row is locked")
                assert not worker.shutting_down
                # the locked queue's job waits for its queue, untouched
                assert scalar(conn, "select state from pgrun.jobs where id = %s", (queued,)) == "available"

    asyncio.run(main())
    assert queued not in ran and len(ran) == UNQUEUED
    # Every claim made while enough unqueued jobs were left came back full.
    left = UNQUEUED - (len(ran) - sum(got for _, got in claims))  # unqueued jobs left before the spy
    for asked, got in claims:
        if left >= asked:
            assert got == asked, f"a claim of {asked} got {got} with {left} unqueued jobs left: {claims}"
        left -= got
    assert sum(got for _, got in claims) > 0
