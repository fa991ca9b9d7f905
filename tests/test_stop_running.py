"""Stopping a running attempt, with real `pgrun` processes: a cancel from
another process reaches an async handler (cancelled) and a plain one
(helpers.cancelled) within about a second, by NOTIFY and, when that is lost, by
the worker's own asking; a task timeout stops the attempt and records "timed
out after N s"; a plain handler that ignores its stop loses its slot after the
grace (issue 9)."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

import pytest

import pgrun
from fault_support import embedded
from support import scalar, wait_until

TASKS = ["--tasks", "tasks.stoppable"]


def _notes(conn, job_id: int) -> list[str]:
    return [r[0] for r in conn.execute("select note from pgrun_test_results where job_id = %s order by id",
                                       (job_id,)).fetchall()]


def _add(conn, task: str, payload: str = "{}", **options) -> int:
    extra = "".join(f", {name} => %s" for name in options)
    return scalar(conn, f"select id from pgrun.add_job(%s, %s::json{extra})",
                  (task, payload, *options.values()))


def _row(conn, job_id: int):
    return conn.execute("select state, attempts, last_error from pgrun.jobs where id = %s",
                        (job_id,)).fetchone()


@pytest.mark.parametrize("task, seen", [("waits_async", "cancelled, event set: True"),
                                        ("waits_plain", "saw helpers.cancelled"),
                                        ("waits_process", "saw helpers.cancelled")])
def test_a_cancel_from_another_process_stops_the_running_handler(conn, recording_workers, task, seen):
    recording_workers.start(*TASKS)
    job_id = _add(conn, task)
    wait_until(lambda: _notes(conn, job_id) == ["started"], message="the handler to start")
    asked = time.monotonic()
    conn.execute("select pgrun.cancel_jobs(array[%s]::bigint[], 'not needed')", (job_id,))
    wait_until(lambda: _row(conn, job_id)[0] == "cancelled", timeout=10, message="the job to end cancelled")
    took = time.monotonic() - asked
    state, attempts, last_error = _row(conn, job_id)
    assert (attempts, last_error) == (1, "cancelled: not needed; its attempt ended: stopped by its cancel")
    assert _notes(conn, job_id) == ["started", seen]
    assert took < 5, f"the cancel took {took:.1f} s to reach the handler"


def test_without_its_notification_a_cancel_arrives_by_the_workers_own_asking(conn, recording_workers):
    recording_workers.start(*TASKS)
    job_id = _add(conn, "waits_async")
    wait_until(lambda: _notes(conn, job_id) == ["started"], message="the handler to start")
    # what cancel_jobs does to a running job, without its NOTIFY (as if it were lost)
    conn.execute("update pgrun._private_jobs set cancel_requested_at = now() where id = %s", (job_id,))
    wait_until(lambda: _row(conn, job_id)[0] == "cancelled", timeout=10,
               message="the job to end cancelled by the worker's once-a-second question")
    assert _notes(conn, job_id) == ["started", "cancelled, event set: True"]


@pytest.mark.parametrize("task", ["slow_async", "slow_plain", "slow_process"])
def test_a_task_timeout_stops_the_attempt_and_it_is_retried_by_its_policy(conn, recording_workers, task):
    recording_workers.start(*TASKS, "--stop-grace", "1")
    job_id = _add(conn, task, max_attempts=2)
    wait_until(lambda: _row(conn, job_id)[0] == "retryable", timeout=10,
               message="the first attempt to time out")
    state, attempts, last_error = _row(conn, job_id)
    assert (attempts, last_error) == (1, "timed out after 0.5 s")
    assert _notes(conn, job_id)[0] == "started"


@pytest.mark.parametrize("task", ["waits_async", "waits_plain", "waits_process"])
def test_a_jobs_own_timeout_stops_the_attempt(conn, recording_workers, task):
    recording_workers.start(*TASKS)
    job_id = _add(conn, task, max_attempts=2, timeout=timedelta(seconds=1))
    wait_until(lambda: _row(conn, job_id)[0] == "retryable", timeout=10,
               message="the first attempt to time out")
    assert _row(conn, job_id)[1:] == (1, "timed out after 1 s")


def test_a_jobs_own_timeout_wins_over_its_tasks(conn, recording_workers):
    recording_workers.start(*TASKS)
    job_id = _add(conn, "slow_async", max_attempts=2, timeout=timedelta(seconds=2))  # the task says 0.5 s
    wait_until(lambda: _row(conn, job_id)[0] == "retryable", timeout=10,
               message="the first attempt to time out")
    assert _row(conn, job_id)[1:] == (1, "timed out after 2 s")


def test_a_plain_handler_that_ignores_its_stop_loses_its_slot_after_the_grace(conn, recording_workers):
    worker = recording_workers.start(*TASKS, "--concurrency", "1", "--stop-grace", "0.5")
    stubborn = _add(conn, "ignores_plain", '{"seconds": 6}')
    wait_until(lambda: _notes(conn, stubborn) == ["started"], message="the stubborn handler to start")
    conn.execute("select pgrun.cancel_jobs(array[%s]::bigint[])", (stubborn,))
    after = _add(conn, "quick")
    # the one slot is free again while the stubborn thread still sleeps
    wait_until(lambda: _notes(conn, after) == ["ran"], timeout=5, message="the next job to use the slot")
    assert _notes(conn, stubborn) == ["started"]
    assert _row(conn, stubborn)[0] == "cancelled"
    worker.wait_for_line("ignored its stop for 0.5 s; its slot is released and its thread abandoned")


def test_past_the_bound_of_abandoned_threads_the_worker_asks_to_be_restarted(dsn, conn):
    release = threading.Event()

    def stubborn(payload, helpers):
        release.wait(30)  # ignores helpers.cancelled

    async def main():
        async with embedded({"stubborn": stubborn}, dsn, stop_grace=0.2, max_abandoned_threads=0) as worker:
            job_id = _add(conn, "stubborn")
            await asyncio.to_thread(wait_until, lambda: _row(conn, job_id)[0] == "running")
            with pgrun.WorkerUtils(dsn) as utils:
                utils.cancel_jobs([job_id])
            with pytest.raises(pgrun.WorkerRestartRequired, match="start a new one"):
                await asyncio.wait_for(worker.wait(), 15)
            assert worker.restart_reason == "1 abandoned handler threads are still running"
            assert worker.stats.abandoned_threads == 1
            assert _row(conn, job_id)[0] == "cancelled"
        release.set()

    asyncio.run(main())


def test_the_pgrun_command_past_the_bound_runs_itself_again(conn, recording_workers):
    worker = recording_workers.start(*TASKS, "--concurrency", "1", "--stop-grace", "0.2",
                                     "--max-abandoned-threads", "0")
    stubborn = _add(conn, "ignores_plain", '{"seconds": 60}')
    wait_until(lambda: _notes(conn, stubborn) == ["started"], message="the stubborn handler to start")
    conn.execute("select pgrun.cancel_jobs(array[%s]::bigint[])", (stubborn,))
    worker.wait_for_line("restarts: 1 abandoned handler threads are still running")
    restarted = len(worker.lines)
    worker.wait_for_line("restarting: ", after=restarted - 1)
    worker.wait_for_line(" ready: ", after=restarted)
    pid = worker.pid
    after = _add(conn, "quick")
    wait_until(lambda: _notes(conn, after) == ["ran"], message="the restarted worker to run a job")
    assert worker.proc.poll() is None and worker.pid == pid  # the same process, executed again
    assert _row(conn, stubborn)[0] == "cancelled"
    assert _notes(conn, stubborn) == ["started"]  # the abandoned thread went with the old image
