"""Issue 12: a connection lost while an outcome is written. Real worker processes, real
cuts: the outcome writer's backend terminated in the middle of its statement, and a
worker cut off the database (tests/tcp_proxy.py) while its handler finishes.

1. Cut mid-statement: the completion (or failure) is retried on a new connection until it
   is written; the job ran once and ends as its handler said.
2. Cut off while attempt 1 ends, attempt 1 released (force_unlock_workers) and attempt 2
   running on another worker: when the line comes back, attempt 1's retried outcome is
   answered 'lost' and leaves attempt 2 alone (the lease of each claim); attempt 2 ends
   the job. Nothing ran a third time.
"""

from __future__ import annotations

import threading

import psycopg
import pytest

from support import scalar, wait_until

SECONDS = 60   # generous: a loaded machine
ADD = ("select id from pgrun.add_job('gated_outcome', json_build_object('gate', %s::text, "
       "'fail', %s::boolean), max_attempts => %s)")


def _results(conn, job_id: int) -> list[tuple[int, str]]:
    return conn.execute("select attempt, note from pgrun_test_results where job_id = %s order by id",
                        (job_id,)).fetchall()


def _waiting_writer(conn, statement: str, not_pid: int | None = None) -> int | None:
    """The pid of a backend waiting on a lock in `statement`, if one is."""
    return scalar(conn, "select pid from pg_stat_activity where datname = current_database() "
                        "and wait_event_type = 'Lock' and query like %s and pid is distinct from %s",
                  (f"%{statement}%", not_pid))


def _hold_outcome_counts(blocker, worker_id: str) -> None:
    """An outcome's statement ends by counting it in the per-minute rollups: an uncommitted
    row of the same key (this minute and the next two) makes it wait there, its job row
    already locked and changed."""
    blocker.execute("insert into pgrun._private_outcome_minutes (minute, worker_id, task_identifier) "
                    "select date_trunc('minute', now()) + m * interval '1 minute', %s, 'gated_outcome' "
                    "from generate_series(0, 2) as m", (worker_id,))


@pytest.mark.parametrize("fail", [False, True], ids=["complete", "fail"])
def test_an_outcome_cut_mid_statement_is_retried_until_written(recording_workers, conn, dsn, tmp_path, fail):
    worker = recording_workers.start("--tasks", "tasks.fault_tasks", "--concurrency", "1")
    worker_id = scalar(conn, "select worker_id from pgrun._private_workers")
    gate = str(tmp_path / "gate")
    with psycopg.connect(dsn) as blocker:
        _hold_outcome_counts(blocker, worker_id)
        job_id = scalar(conn, ADD, (gate, fail, 3))
        wait_until(lambda: _results(conn, job_id), timeout=SECONDS, message="the handler to start")
        open(f"{gate}.1", "w").close()
        statement = "fail_attempts" if fail else "complete_attempts"
        first = wait_until(lambda: _waiting_writer(conn, statement), timeout=SECONDS,
                           message=f"the worker's {statement} to wait")
        assert scalar(conn, "select pg_terminate_backend(%s)", (first,))
        wait_until(lambda: _waiting_writer(conn, statement, not_pid=first), timeout=SECONDS,
                   message=f"{statement} to be sent again on a new connection")
        blocker.rollback()
    if fail:
        wait_until(lambda: scalar(conn, "select state from pgrun.jobs where id = %s", (job_id,))
                   == "retryable", timeout=SECONDS, message="the failure to be written")
        assert scalar(conn, "select attempts from pgrun.jobs where id = %s", (job_id,)) == 1
        assert "attempt 1 fails" in scalar(conn, "select last_error from pgrun.jobs where id = %s", (job_id,))
    else:
        wait_until(lambda: not scalar(conn, "select count(*) from pgrun.jobs where id = %s", (job_id,)),
                   timeout=SECONDS, message="the completion to be written")
    assert _results(conn, job_id) == [(1, "started")]   # ran once
    assert worker.proc.poll() is None, worker.output[-3000:]


@pytest.mark.parametrize("fail", [False, True], ids=["complete", "fail"])
def test_a_late_outcome_of_attempt_1_never_touches_attempt_2(recording_workers, conn, dsn, tmp_path, fail):
    worker = recording_workers.start("--tasks", "tasks.fault_tasks", "--concurrency", "1")
    worker_id = scalar(conn, "select worker_id from pgrun._private_workers")
    other = "fault-17-the-next-claimer"
    conn.execute("select pgrun.register_worker(%s)", (other,))
    gate = str(tmp_path / "gate")
    statement = "fail_attempts" if fail else "complete_attempts"
    with psycopg.connect(dsn) as blocker, psycopg.connect(dsn) as admin:
        _hold_outcome_counts(blocker, worker_id)
        job_id = scalar(conn, ADD, (gate, fail, 5))
        wait_until(lambda: _results(conn, job_id), timeout=SECONDS, message="attempt 1 to start")
        open(f"{gate}.1", "w").close()
        writer = wait_until(lambda: _waiting_writer(conn, statement), timeout=SECONDS,
                            message=f"attempt 1's {statement} to wait")
        # Queue for the job's row behind the waiting write, then cut the write: the row is
        # ours before the write, sent again, can take it (it skips locked rows: 'busy').
        waiting = threading.Thread(target=admin.execute, args=(
            "select id from pgrun._private_jobs where id = %s for update", (job_id,)))
        waiting.start()
        wait_until(lambda: scalar(conn, "select count(*) from pg_stat_activity "
                                        "where query like '%%for update' and wait_event_type = 'Lock'"),
                   timeout=SECONDS, message="the admin session to wait for the job's row")
        assert scalar(conn, "select pg_terminate_backend(%s)", (writer,))
        waiting.join(SECONDS)
        # attempt 1 released (its worker force-unlocked), attempt 2 claimed, in one transaction
        admin.execute("select pgrun.force_unlock_workers(array[%s])", (worker_id,))
        claimed = admin.execute("select id, lease from pgrun.claim_jobs(%s, 1, array['gated_outcome']) "
                                "where id is not null", (other,)).fetchall()
        admin.commit()
        assert [job for job, _ in claimed] == [job_id]
        attempt_2 = conn.execute("select state, attempts, locked_by, lease from pgrun._private_jobs "
                                 "where id = %s", (job_id,)).fetchone()
        assert attempt_2 == ("running", 2, other, claimed[0][1])
        # Sent again and answered lost, or dropped unsent: the worker's heartbeat may learn of
        # the force-unlock first (it then drops the outcomes of attempts it no longer holds)
        wait_until(lambda: any((f"job {job_id} " in line and ("no longer this worker's" in line
                                                              or "could not be confirmed" in line))
                               or "outcome(s) of attempts this worker no longer holds" in line
                               for line in worker.lines), timeout=SECONDS,
                   message="attempt 1's outcome, sent again, to be answered lost (or dropped)")
        assert conn.execute("select state, attempts, locked_by, lease from pgrun._private_jobs where id = %s",
                            (job_id,)).fetchone() == attempt_2   # untouched
        blocker.rollback()
    answers = conn.execute("select outcome from pgrun.complete_attempts(%s, %s, %s)",
                           (other, [job_id], [claimed[0][1]])).fetchall()
    assert answers == [("completed",)]
    assert _results(conn, job_id) == [(1, "started")]   # attempt 1 ran once; nothing ran a third time
