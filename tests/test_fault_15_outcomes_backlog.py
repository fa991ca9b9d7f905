"""Found by the chaos driver (tests/chaos): a worker whose outcome writer could not get
a connection back after connections were exhausted (its pool's reconnect attempts
back off, 1 s, 2 s, 4 s, ...) went on claiming: the claim loop had its connection,
and counted free slots without the finished jobs whose outcomes waited. It held 2,605
running jobs, most of them already run, until it was killed, and all ran again.

A worker holds at most twice its slots and its prefetch, outcomes waiting included
(up to a roomful of waiting outcomes is the normal pipeline of outcome batches and
takes no room from claims). Here the outcome writer's round trips are held; the
worker must stop claiming at that bound instead of running the whole queue."""

from __future__ import annotations

import asyncio

from fault_support import add_many, db_wait, embedded
from pgrun.fetcher import default_prefetch
from support import scalar

CONCURRENCY = 2
JOBS = 200


def test_a_worker_whose_outcomes_cannot_be_written_stops_claiming(dsn, conn):
    ran: list[int] = []
    limit = 2 * (CONCURRENCY + default_prefetch(CONCURRENCY))

    async def work(payload, helpers):
        ran.append(helpers.job.id)

    async def main():
        async with embedded({"work": work}, dsn, concurrency=CONCURRENCY) as worker:
            outcomes = worker.outcomes
            send, go_on = outcomes._send, asyncio.Event()

            async def held(conn_, kind, batch):
                await go_on.wait()
                return await send(conn_, kind, batch)

            outcomes._send = held
            try:
                await asyncio.to_thread(add_many, conn, JOBS, "work")
                worker.nudge()
                await db_wait(lambda: len(ran) >= limit, message="the first jobs to run")
                # the bug ran every job within a few milliseconds; give it ample time to show
                try:
                    await db_wait(lambda: len(ran) > limit, timeout=2.0)
                except AssertionError:
                    pass
                held_now = scalar(conn, "select count(*) from pgrun.jobs where state = 'running'")
                assert len(ran) <= limit and held_now <= limit, (len(ran), held_now, limit)
            finally:
                go_on.set()
            await db_wait(lambda: scalar(conn, "select count(*) from pgrun.jobs") == 0, timeout=30,
                          message="every job to complete once outcomes are written")

    asyncio.run(main())
    assert sorted(ran) == sorted(set(ran)) and len(ran) == JOBS
