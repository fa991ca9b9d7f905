"""Fault 4 of issue 8: an error message PostgreSQL cannot store crashed the worker.

The scenario: a handler raises an error whose message holds a NUL byte (text
cannot hold it), another one a lone surrogate (not UTF-8). Schema 1's flusher
died on the write, the job stayed locked and crashed the next worker the same
way; embedded with run_async, the stopped worker went on beating, so its jobs
were never released. Now the worker stays up and keeps working, each job fails
cleanly with its message stored escaped (runner/pgrun/text.py: NUL as \\x00, a
lone surrogate as \\udXXX), and a stopped embedded worker stops beating.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from fault_support import backends, db_wait, embedded
from support import RESULTS_TABLE, scalar, wait_until
from tasks.fault_tasks import POISON

ESCAPED = {  # what the stored message says instead of the character
    "nul": "a message with a NUL byte here: \\x00 and after it",
    "surrogate": "a message with a lone surrogate here: \\ud800 and after it",
}


def _add_poison(conn) -> dict[str, int]:
    return {kind: scalar(conn, "select id from pgrun.add_job('poison', json_build_object('kind', %s::text), "
                               "max_attempts => 1)", (kind,)) for kind in POISON}


def _assert_failed_cleanly(conn, ids: dict[str, int]) -> None:
    for kind, job_id in ids.items():
        state, attempts, locked_by, last_error, errors = conn.execute(
            "select state, attempts, locked_by, last_error, errors from pgrun.jobs where id = %s",
            (job_id,)).fetchone()
        assert (state, attempts, locked_by) == ("failed", 1, None), kind
        assert last_error.startswith(f"RuntimeError: {ESCAPED[kind]}\n"), last_error
        assert "Traceback" in last_error  # the whole error was stored, not a placeholder
        assert [e["attempt"] for e in errors] == [1]
        assert errors[0]["error"].startswith(f"RuntimeError: {ESCAPED[kind]}")


def test_a_worker_process_fails_unstorable_messages_cleanly_and_keeps_working(recording_workers, conn):
    worker = recording_workers.start("--tasks", "tasks.fault_tasks", "--concurrency", "2")
    ids = _add_poison(conn)
    wait_until(lambda: scalar(conn, "select count(*) from pgrun.jobs where state = 'failed'") == 2,
               message="both poison jobs to fail")
    _assert_failed_cleanly(conn, ids)
    for job_id in ids.values():
        worker.wait_for_line(f"job {job_id} (poison) failed permanently on attempt 1/1")

    # still up, still working
    scalar(conn, "select id from pgrun.add_job('note', '{\"note\": \"after the poison\"}')")
    wait_until(lambda: scalar(conn, "select count(*) from pgrun_test_results "
                                    "where note = 'after the poison'"),
               message="a job after the poison jobs to run")
    assert worker.proc.poll() is None, worker.output
    for bad in ("crashed", "refused", "cannot be recorded", "could not be stored"):
        assert bad not in worker.output, worker.output
    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0, worker.output
    assert scalar(conn, "select count(*) from pgrun._private_workers") == 0


def test_a_stopped_embedded_worker_stops_beating(dsn, conn, caplog):
    caplog.set_level(logging.INFO, logger="pgrun.worker")
    conn.execute(RESULTS_TABLE)
    from tasks import fault_tasks

    async def main():
        async with embedded(fault_tasks, dsn, worker_id="fault-04-embedded") as worker:
            assert len(backends(conn, "pgrun heartbeat")) == 1
            ids = _add_poison(conn)
            await db_wait(lambda: scalar(conn, "select count(*) from pgrun.jobs where state = 'failed'") == 2,
                          message="both poison jobs to fail")
            scalar(conn, "select id from pgrun.add_job('note', '{\"note\": \"embedded, after\"}')")
            await db_wait(lambda: scalar(conn, "select count(*) from pgrun.jobs") == 2,
                          message="the job after the poison jobs to complete")
            assert not worker.shutting_down
            stats = await worker.stop()  # raises what stopped the worker, if anything did
            # Stopped: its heartbeat connection is closed and its row is gone, while this process
            # (the host application) lives on. Give a beat or two the chance to show up.
            await asyncio.sleep(1.2)
            return ids, stats

    ids, stats = asyncio.run(main())
    _assert_failed_cleanly(conn, ids)
    assert (stats.completed, stats.failed, stats.permanently_failed) == (1, 2, 2)
    assert backends(conn, "pgrun heartbeat") == []
    assert scalar(conn, "select count(*) from pgrun._private_workers") == 0
    assert "crashed" not in caplog.text
