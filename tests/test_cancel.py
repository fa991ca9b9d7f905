"""cancel_jobs with a real worker: a job cancelled while its handler runs ends
cancelled when the handler returns or raises, never retried, and its serial
queue's next job waits until then, even when the handler ignores its stop;
WorkerUtils.cancel_jobs cancels a waiting job at once. (How the stop reaches
handlers: tests/test_stop_running.py.)"""

from __future__ import annotations

import asyncio

import pytest

import pgrun
from fault_support import db_wait, embedded
from support import scalar


def _state(conn, job_id: int) -> str | None:
    return scalar(conn, "select state from pgrun.jobs where id = %s", (job_id,))


@pytest.mark.parametrize("ending", ["returns", "raises"])
def test_a_job_cancelled_while_it_runs_ends_cancelled_and_its_queue_waits(dsn, conn, ending):
    started: list[int] = []
    finish = asyncio.Event()

    async def slow(payload, helpers):
        started.append(helpers.job.id)
        if payload.get("first"):
            try:
                await finish.wait()
            except asyncio.CancelledError:  # the stop: this handler ignores it and goes on
                await finish.wait()
            if ending == "raises":
                raise RuntimeError("gave up")
        return {"done": True}

    async def main():
        async with embedded({"slow": slow}, dsn, worker_id="cancel-test-worker") as worker:
            add = "select id from pgrun.add_job('slow', %s::json, queue_name => 'q')"
            first = scalar(conn, add, ('{"first": true}',))
            second = scalar(conn, add, ("{}",))
            await db_wait(lambda: started == [first], message="the first job to start")
            with pgrun.WorkerUtils(dsn) as utils:
                [marked] = utils.cancel_jobs([first], "customer left")
            assert (marked.state, _state(conn, first)) == ("running", "running")
            # its queue slot stays taken while the handler runs
            await asyncio.sleep(0.3)  # a window in which a wrong claim would start the second job
            assert started == [first] and _state(conn, second) == "available"

            finish.set()
            await db_wait(lambda: _state(conn, first) == "cancelled", message="the first job to be cancelled")
            await db_wait(lambda: _state(conn, second) is None, message="the second job to run and complete")
            assert started == [first, second]
            assert worker.stats.cancelled == 1
            assert (worker.stats.completed, worker.stats.failed) == (1, 0)
            row = conn.execute("select attempts, last_error, result from pgrun.jobs where id = %s",
                               (first,)).fetchone()
            # the attempt is recorded as stopped, however the handler ended after its stop
            assert row == (1, "cancelled: customer left; its attempt ended: stopped by its cancel", None)

    asyncio.run(main())


def test_a_waiting_job_cancelled_from_python_never_runs(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        job = utils.add_job("never", {"n": 1}, job_key="k")
        [cancelled] = utils.cancel_jobs([job.id])
        assert cancelled.state == "cancelled" and cancelled.last_error == "cancelled"
        assert utils.cancel_jobs([job.id]) == []  # final: left alone
        again = utils.add_job("never", {"n": 2}, job_key="k")  # the key is free
        assert again.id != job.id
