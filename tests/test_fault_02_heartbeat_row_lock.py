"""Fault 2 of issue 8: a heartbeat waited on a job's row lock.

The scenario: a keyed job runs on worker A. The application re-keys it (add_job
with the same job_key) inside a transaction that it keeps open for longer than
the lease timeout: add_job detaches the running job's key, so that transaction
holds the running job's row lock. Schema 1's beat renewed the locks of jobs
running for over an hour in the transaction of the beat itself, so the beat
waited on that lock, the live worker was reaped by worker B, and B's reaping
then blocked on the same lock. Now a beat touches only the worker's row: A
keeps beating, nobody reaps it, and its job completes once the lock is gone.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from fault_support import db_wait, embedded, holding
from support import scalar

TIMEOUT = 2.0   # the workers' lease timeout (fault_support.FAST_LEASE)
HOLD = 5.0      # how long the application keeps its transaction open: 2.5 timeouts


@pytest.mark.slow
def test_a_worker_whose_running_job_is_rekeyed_in_a_long_transaction_keeps_its_lease(dsn, conn, caplog):
    caplog.set_level(logging.INFO, logger="pgrun.worker")
    started: list[tuple[int, int]] = []
    finish = asyncio.Event()

    async def keyed(payload, helpers):
        started.append((helpers.job.id, helpers.job.attempts))
        if payload.get("first"):
            await finish.wait()

    def beat_of(worker_id: str):
        return scalar(conn, "select last_heartbeat_at from pgrun._private_workers "
                            "where worker_id = %s and reaped_at is null", (worker_id,))

    async def main():
        async with embedded({"keyed": keyed}, dsn, worker_id="fault-02-worker-a") as a:
            job_id = scalar(conn, "select id from pgrun.add_job('keyed', '{\"first\": true}', "
                                  "job_key => 'account-42')")
            await db_wait(lambda: started == [(job_id, 1)], message="the keyed job to start on A")
            async with embedded({"keyed": keyed}, dsn, worker_id="fault-02-worker-b") as b:
                # B may reap: it has beaten for longer than a lease timeout
                await db_wait(lambda: scalar(conn, "select beating_since < now() - %s * interval '1 s' "
                                                   "from pgrun._private_workers where worker_id = %s",
                                             (TIMEOUT + 0.2, b.worker_id)),
                              message="B to have beaten for a full lease timeout")
                # The job has been running for over an hour (schema 1's beat renewed such locks),
                # and then the application re-keys it. Both without yielding to the loop, so no
                # beat of A comes in between.
                conn.execute("update pgrun._private_jobs set locked_at = now() - interval '2 hours' "
                             "where id = %s", (job_id,))
                with holding(dsn, "select pgrun.add_job('keyed', '{}', job_key => 'account-42')") as app:
                    assert scalar(app, "select key from pgrun._private_jobs where id = %s", (job_id,)) is None
                    # the running job's row is locked now: a probe that must not wait says so
                    assert scalar(conn, "select count(*) from (select from pgrun._private_jobs where id = %s "
                                        "for update skip locked) as x", (job_id,)) == 0
                    before = beat_of(a.worker_id)
                    beats = []
                    for _ in range(int(HOLD / 0.5)):
                        await asyncio.sleep(0.5)  # the lock is held on purpose for this long
                        beats.append(beat_of(a.worker_id))
                    # A beat all along, and is still live and unreaped
                    assert None not in beats, "worker A was reaped while its transaction waited"
                    assert len(set(beats)) >= HOLD / 0.5 - 3, f"A's beats stalled: {beats}"
                    assert beats[-1] > before
                    assert scalar(conn, "select state from pgrun._private_jobs where id = %s",
                                  (job_id,)) == "running"
                    assert scalar(conn, "select locked_by from pgrun._private_jobs where id = %s",
                                  (job_id,)) == a.worker_id
                    app.commit()  # the new keyed job is added; the lock goes

                finish.set()
                await db_wait(lambda: scalar(conn, "select count(*) from pgrun.jobs") == 0, timeout=10,
                              message="the re-keyed job and its successor to complete")
                assert not a.shutting_down and not b.shutting_down
                return job_id, a.worker_id, b.worker_id, a.stats.completed + b.stats.completed

    job_id, a_id, b_id, completed = asyncio.run(main())
    assert started[0] == (job_id, 1) and len(started) == 2  # each job ran once, the first never twice
    assert completed == 2
    assert f"job {job_id} (keyed) completed on attempt 1/" in caplog.text
    assert "lost its lease" not in caplog.text
    assert "stopped sending heartbeats" not in caplog.text
    assert "heartbeat failed" not in caplog.text
