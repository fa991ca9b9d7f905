"""Fault 3 of issue 8: writing outcomes waited on row locks of application transactions.

The scenario: a worker runs five jobs; an application transaction holds
`select ... for update` on one of them while all five finish. Schema 1 wrote
the batch in one statement that waited on that row: every outcome of the
worker stalled, and a SIGTERM then hung. Now the locked row is answered 'busy'
and sent again later: the others complete at once, the locked one after the
lock is released, and a SIGTERM with the lock still held ends the worker
within its shutdown deadline (exit 0, docs/runner.md#exit-codes).
"""

from __future__ import annotations

import signal
import time

import pytest

from fault_support import holding
from support import scalar, wait_until

JOBS = 5


def _five_running_jobs(recording_workers, conn, gate):
    worker = recording_workers.start("--tasks", "tasks.fault_tasks", "--concurrency", str(JOBS),
                           "--shutdown-timeout", "2")
    ids = [scalar(conn, "select id from pgrun.add_job('gated', json_build_object('gate', %s::text))",
                  (str(gate),)) for _ in range(JOBS)]
    wait_until(lambda: scalar(conn, "select count(*) from pgrun_test_results where note = 'started'") == JOBS,
               message="every job to start")
    return worker, ids


def _left(conn, ids) -> list[int]:
    return [r[0] for r in conn.execute("select id from pgrun.jobs where id = any(%s) order by id",
                                       (ids,)).fetchall()]


def test_one_locked_job_does_not_stall_the_others_and_completes_after_the_lock(recording_workers, conn, dsn,
                                                                               tmp_path):
    gate = tmp_path / "gate"
    worker, ids = _five_running_jobs(recording_workers, conn, gate)
    locked = ids[2]

    with holding(dsn, "select from pgrun._private_jobs where id = %s for update", (locked,)):
        gate.touch()  # all five finish now
        finished = time.monotonic()
        wait_until(lambda: _left(conn, ids) == [locked], timeout=3,
                   message="the four unlocked jobs to complete while the fifth row is locked")
        assert time.monotonic() - finished < 3
        assert scalar(conn, "select count(*) from pgrun_test_results where note = 'finished'") == JOBS
        # the writer is not stalled: a new job completes while the lock is still held
        new = scalar(conn, "select id from pgrun.add_job('note', '{\"note\": \"during the lock\"}')")
        wait_until(lambda: not _left(conn, [new]), timeout=3, message="a new job to complete during the lock")
        assert scalar(conn, "select state from pgrun.jobs where id = %s", (locked,)) == "running"
        worker.wait_for_line(f"job {locked} (gated): another transaction holds its row", timeout=5)
    released = time.monotonic()

    wait_until(lambda: not _left(conn, ids), timeout=8, message="the locked job to complete after the lock")
    assert time.monotonic() - released < 8  # busy retries back off to 5 s at most
    worker.wait_for_line(f"job {locked} (gated) completed on attempt 1/25")
    assert worker.output.count("completed on attempt 1/25") == JOBS + 1
    assert scalar(conn, "select count(*) from pgrun_test_results where note = 'finished'") == JOBS
    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0, worker.output


@pytest.mark.slow
def test_sigterm_with_a_locked_outcome_ends_the_worker_within_its_deadline(recording_workers, conn, dsn,
                                                                           tmp_path):
    gate = tmp_path / "gate"
    worker, ids = _five_running_jobs(recording_workers, conn, gate)
    locked = ids[0]

    with holding(dsn, "select from pgrun._private_jobs where id = %s for update", (locked,)):
        gate.touch()
        wait_until(lambda: _left(conn, ids) == [locked], timeout=3, message="the unlocked jobs to complete")
        worker.signal(signal.SIGTERM)
        sent = time.monotonic()
        # Documented bound (docs/operations.md, graceful shutdown): the grace period (2 s, no job
        # runs), then 10 s to write outcomes; the exit comes well before a minute, with status 0.
        code = worker.wait(25)
        took = time.monotonic() - sent
        assert code == 0, worker.output
        assert took < 16, f"the worker took {took:.1f} s to stop"
        assert "could not record 1 job outcome(s) in time" in worker.output
        # the lock was never released, yet the worker left: its row stays marked until a
        # live worker releases what it held
        assert scalar(conn, "select state from pgrun.jobs where id = %s", (locked,)) == "running"
    assert "crashed" not in worker.output
