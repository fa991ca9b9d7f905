"""Found by the chaos driver (tests/chaos): after a claim whose answer was lost, the
fetcher gives back every attempt held under its id that it does not know of, and
an outcome being written at that moment was not known (it had left the pending list
for the round trip). The give-back could then win: the job went back to available
with its attempt uncounted, the completion was answered 'lost', and the job ran
again as the same attempt. In the chaos run, 130 jobs ran twice so.

Here the completion of a job is held in flight (its round trip waits on the test),
the fetcher is told a claim's answer was lost, and gives back its orphans; then the
completion goes on. The job must complete, once."""

from __future__ import annotations

import asyncio

from fault_support import add_job, db_wait, embedded
from support import scalar


def test_an_outcome_being_written_is_not_given_back_as_an_orphan(dsn, conn):
    runs: list[tuple[int, int]] = []

    async def work(payload, helpers):
        runs.append((helpers.job.id, helpers.job.attempts))

    async def main():
        async with embedded({"work": work}, dsn, concurrency=2) as worker:
            outcomes = worker.outcomes
            send = outcomes._send
            in_flight, go_on = asyncio.Event(), asyncio.Event()

            async def held(conn_, kind, batch):
                if kind == "complete" and not go_on.is_set():
                    in_flight.set()
                    await go_on.wait()
                return await send(conn_, kind, batch)

            outcomes._send = held
            job_id = (await asyncio.to_thread(add_job, conn, "work"))["id"]
            worker.nudge()
            await asyncio.wait_for(in_flight.wait(), 10)
            # a claim's answer was lost: before its next claim the fetcher gives back
            # the attempts it holds and does not know of
            worker.fetcher._recover = True
            worker.nudge()
            await db_wait(lambda: not worker.fetcher._recover, message="the orphans to be given back")
            go_on.set()
            await db_wait(lambda: scalar(conn, "select count(*) from pgrun.jobs") == 0,
                          message="the job to complete")
            await asyncio.sleep(0.3)  # a second run, if the job went back, starts at once
            assert worker.stats.completed == 1 and worker.stats.lost == 0, worker.stats
            return job_id

    job_id = asyncio.run(main())
    assert runs == [(job_id, 1)]
