"""Fault 6 of issue 8: a job due in a few seconds waited up to 60 s when its NOTIFY was missed.

Each scenario adds a job due in 2 s (or a retry due ~2.7 s later) in a way that
no NOTIFY reaches the worker, and the job must start within 1 s of its run_at,
both measured by the database's clock. Schema 1 learned of future jobs only
from NOTIFY payloads, so these waited for the 60 s poll (measured: 59 s late).
Now every short claim returns when the next job of the worker's tasks is due.
"""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from fault_support import db_seconds_between, db_wait, embedded, terminate
from support import scalar

LATE = 1.0  # the most a job may start after its run_at, in the database's time


def _recorder(starts: list):
    async def timed(payload, helpers):
        async with helpers.connection() as conn:
            cursor = await conn.execute("select clock_timestamp()")
            (now,) = await cursor.fetchone()
        starts.append((helpers.job.id, helpers.job.attempts, helpers.job.run_at, now))
        if helpers.job.attempts == 1 and payload.get("fail_first"):
            gate = payload_gates[payload["fail_first"]]
            await gate.wait()
            raise RuntimeError("the first attempt fails")
    return timed


payload_gates: dict[str, asyncio.Event] = {}


def _lateness(conn, start) -> float:
    _, _, run_at, started = start
    return db_seconds_between(conn, started, run_at)


async def _until_idle(conn) -> None:
    await db_wait(lambda: scalar(conn, "select idle_since is not null from pgrun._private_workers"),
                  message="the worker to be idle (so add_job would notify it)")


def _add_due_in_2s(conn) -> tuple[int, object]:
    return conn.execute("select id, run_at from pgrun.add_job('timed', run_at => now() + interval '2 s')"
                        ).fetchone()


def test_a_job_added_before_the_worker_started_runs_on_time(dsn, conn):
    starts: list = []

    async def main():
        job_id, run_at = _add_due_in_2s(conn)  # nobody listens yet
        async with embedded({"timed": _recorder(starts)}, dsn) as worker:
            assert scalar(conn, "select now() < %s", (run_at,)), "the worker took over 2 s to start"
            await db_wait(lambda: starts, timeout=2 + LATE + 3, message="the job to start")
            assert not worker.shutting_down
        return job_id

    job_id = asyncio.run(main())
    assert [s[:2] for s in starts] == [(job_id, 1)]
    late = _lateness(conn, starts[0])
    assert 0 <= late < LATE, f"the job started {late:.2f} s after its run_at"


def test_a_job_added_while_listen_was_down_runs_on_time(dsn, conn):
    starts: list = []

    async def main():
        async with embedded({"timed": _recorder(starts)}, dsn) as worker:
            await _until_idle(conn)
            # Without yielding to the loop: the LISTEN backend is gone, and the job is added
            # before the listener can even notice, let alone reconnect.
            assert terminate(conn, "pgrun listener") == 1
            job_id, run_at = _add_due_in_2s(conn)
            await db_wait(lambda: starts, timeout=2 + LATE + 3, message="the job to start")
            assert worker.listening  # it listens again
        return job_id

    job_id = asyncio.run(main())
    assert [s[:2] for s in starts] == [(job_id, 1)]
    late = _lateness(conn, starts[0])
    assert 0 <= late < LATE, f"the job started {late:.2f} s after its run_at"


@pytest.mark.slow
def test_a_retry_scheduled_by_another_worker_runs_on_time(dsn, conn):
    starts: list = []
    payload_gates["c"] = gate = asyncio.Event()

    async def main():
        # A claims the job alone; B starts while A runs it, and is idle
        async with embedded({"timed": _recorder(starts)}, dsn, worker_id="fault-06-worker-a") as a:
            job_id = scalar(conn, "select id from pgrun.add_job('timed', '{\"fail_first\": \"c\"}')")
            await db_wait(lambda: len(starts) == 1, message="attempt 1 to start on A")
            async with embedded({"timed": _recorder(starts)}, dsn, worker_id="fault-06-worker-b") as b:
                await db_wait(lambda: scalar(conn, "select idle_since is not null "
                                                   "from pgrun._private_workers where worker_id = %s",
                                             (b.worker_id,)),
                              message="B to be idle")
                gate.set()  # A fails attempt 1: the retry is due ~2.7 s later
                await db_wait(lambda: scalar(conn, "select state from pgrun.jobs where id = %s",
                                             (job_id,)) == "retryable", message="the retry to be scheduled")
                await a.stop()
                await db_wait(lambda: len(starts) == 2, timeout=3 + LATE + 3, message="B to run the retry")
                # B's completion is written a few ms after its handler returns: wait for it
                await db_wait(lambda: b.stats.completed == 1, message="B's completion to be recorded")
                assert a.stats.failed == 1
        return job_id

    job_id = asyncio.run(main())
    assert [s[:2] for s in starts] == [(job_id, 1), (job_id, 2)]
    retry_due = starts[1][2]
    assert 2.0 < db_seconds_between(conn, retry_due, starts[0][3]) < 4.0  # exp(1) s after attempt 1
    late = _lateness(conn, starts[1])
    assert 0 <= late < LATE, f"the retry started {late:.2f} s after its run_at"


def test_a_job_committed_late_after_its_nudge_was_skipped_still_runs_soon(dsn, conn):
    # add_job skips its NOTIFY within 2 ms of another nudge (_notify_jobs' debounce), trusting
    # the woken worker's look 10 ms later to see it; a commit that comes later than that (a
    # slow fsync, a busy machine, more work after add_job) is caught by the looks after the
    # last nudge, not by the 60 s poll.
    starts: list = []

    async def main():
        async with embedded({"timed": _recorder(starts)}, dsn) as worker:
            await _until_idle(conn)
            nudging = scalar(conn, "select id from pgrun.add_job('timed')")   # its NOTIFY wakes the worker
            with psycopg.connect(dsn) as late:
                # a session's first add_job compiles it, which makes its transaction "long" (it
                # would nudge): compiled first, in a transaction rolled back
                late.execute("select pgrun.add_job('timed')")
                late.rollback()
                # as if the nudge had just been sent (a minute from now, to stay "just"): the
                # next add_job of a young transaction skips its own
                skipped = scalar(conn, "select setval('pgrun._private_last_nudge', (extract(epoch from "
                                       "clock_timestamp() + interval '1 minute') * 1e6)::bigint)")
                late_id = scalar(late, "select id from pgrun.add_job('timed')")  # its transaction's first
                assert scalar(conn, "select last_value from pgrun._private_last_nudge") == skipped, \
                    "the late add_job sent a NOTIFY after all: the scenario did not happen"
                await db_wait(lambda: starts, message="the nudged job to start")
                await asyncio.sleep(0.3)   # the scenario: this transaction commits 300 ms late
                committed_at = scalar(late, "select clock_timestamp()")
            await db_wait(lambda: len(starts) == 2, timeout=5, message="the late job to start")
            assert worker.listening
        return nudging, late_id, committed_at

    nudging, late_id, committed_at = asyncio.run(main())
    assert [s[0] for s in starts] == [nudging, late_id]
    waited = db_seconds_between(conn, starts[1][3], committed_at)
    assert 0 <= waited < 1.5, f"the late job started {waited:.2f} s after its commit"
