"""Pause and resume with real worker processes: a paused queue or task keeps its jobs
waiting through a worker's restart, and a resume runs them at once (the workers poll only
every 60 s here, so only the resume's nudge can wake them). retry_jobs and explain_job from
Python, sync and async."""

from __future__ import annotations

import asyncio
import signal
import time

import psycopg
import pytest

import pgrun
from support import RESULTS_TABLE, Workers, scalar, wait_until


@pytest.fixture
def workers(dsn):
    started = Workers(dsn)
    yield started
    started.close()


def _states(conn, job_ids: list[int]) -> set[str]:
    return {row[0] for row in conn.execute("select state from pgrun.jobs where id = any(%s)", (job_ids,))}


def _recorded(conn, job_id: int) -> bool:
    return bool(scalar(conn, "select count(*) from pgrun_test_results where job_id = %s", (job_id,)))


def _idle(conn) -> bool:
    """Every live worker's last claim came back short: it took all it could."""
    return bool(scalar(conn, "select count(*) > 0 and bool_and(idle_since is not null) "
                             "from pgrun._private_workers where reaped_at is null"))


def _hold_through_restart(workers: Workers, conn, utils: pgrun.WorkerUtils, held: list[int],
                          why: str) -> None:
    """Starts a worker twice; each time an unheld marker job runs and the worker goes idle,
    while the held jobs stay available."""
    for round_ in range(2):
        worker = workers.start("--tasks", "tasks.basic", "--poll-interval", "60")
        marker = utils.add_job("async_echo", {"note": f"marker {round_}"}).id
        wait_until(lambda m=marker: _recorded(conn, m), message=f"marker {round_} to run")
        wait_until(lambda: _idle(conn), message="the worker to find nothing more to claim")
        assert _states(conn, held) == {"available"}
        assert why in utils.explain_job(held[-1]).reason
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0, worker.output
        conn.execute("delete from pgrun._private_workers")  # forgotten, as maintain() would in time
    workers.start("--tasks", "tasks.basic", "--poll-interval", "60")
    wait_until(lambda: _idle(conn), message="the last worker to go idle")
    assert _states(conn, held) == {"available"}


def _runs_at_once(conn, held: list[int], resume) -> None:
    started = time.monotonic()
    assert resume() is True
    wait_until(lambda: all(_recorded(conn, i) for i in held), timeout=20, message="the held jobs to run")
    assert time.monotonic() - started < 30  # well before the 60 s poll


@pytest.mark.slow
def test_a_paused_queue_holds_its_jobs_through_a_worker_restart_and_resume_runs_them_at_once(
        workers, conn, dsn):
    conn.execute(RESULTS_TABLE)
    with pgrun.WorkerUtils(dsn) as utils:
        assert utils.pause_queue("held") is True  # before its first job: the queue is made paused
        assert utils.pause_queue("held") is False
        held = [utils.add_job("async_echo", {"note": f"held {n}"}, queue_name="held").id for n in range(3)]
        _hold_through_restart(workers, conn, utils, held, "its queue held is paused")
        _runs_at_once(conn, held, lambda: utils.resume_queue("held"))


@pytest.mark.slow
def test_a_paused_task_holds_its_jobs_through_a_worker_restart_and_resume_runs_them_at_once(
        workers, conn, dsn):
    conn.execute(RESULTS_TABLE)
    with pgrun.WorkerUtils(dsn) as utils:
        assert utils.pause_task("plain.echo") is True
        held = [utils.add_job("plain.echo", {"note": "unqueued"}).id,
                utils.add_job("plain.echo", {"note": "queued"}, queue_name="q").id]
        _hold_through_restart(workers, conn, utils, held, "its task plain.echo is paused")
        _runs_at_once(conn, held, lambda: utils.resume_task("plain.echo"))


def test_retry_jobs_runs_a_failed_job_again_and_explain_job_says_why_it_waits(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        job = utils.add_job("report", {"n": 1}, run_at=None)
        [failed] = utils.permanently_fail_jobs([job.id], "disk full")
        explained = utils.explain_job(job.id)
        assert isinstance(explained, pgrun.Explanation)
        assert explained.state == "failed" and '"disk full"' in explained.reason and explained.until is None
        assert str(explained) == explained.reason
        [retried] = utils.retry_jobs([job.id, job.id + 1000])
        assert (retried.id, retried.state, retried.attempts) == (job.id, "available", 0)
        assert retried.last_error == "disk full"
        assert utils.retry_jobs([job.id]) == []  # available now: left alone
        assert utils.explain_job(job.id).reason == "available, but no live worker runs task report"
        with pytest.raises(psycopg.errors.NoDataFound, match=f"no job {job.id + 1000}"):
            utils.explain_job(job.id + 1000)
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="queue_name must be 1 to 128"):
            utils.pause_queue("")


def test_async_worker_utils_pause_resume_retry_and_explain(dsn):
    async def main():
        async with pgrun.AsyncWorkerUtils(dsn) as utils:
            assert await utils.pause_queue("aq") is True
            job = await utils.add_job("t", queue_name="aq")
            explained = await utils.explain_job(job.id)
            assert explained.reason.startswith("available, but its queue aq is paused")
            assert await utils.resume_queue("aq") is True
            assert await utils.pause_task("t") is True
            assert (await utils.explain_job(job.id)).reason.startswith("available, but its task t is paused")
            assert await utils.resume_task("t") is True and await utils.resume_task("t") is False
            await utils.cancel_jobs([job.id], "test")
            [retried] = await utils.retry_jobs([job.id])
            assert retried.state == "available"

    asyncio.run(main())
