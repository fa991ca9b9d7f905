"""Priority aging (issues 10 and 12) with a real `pgrun` process: under a constant load of
high-priority jobs (every one that runs adds the next, so the worker never runs out of
them), low-priority jobs that waited behind them do not run while aging is off, and do run
once it is on, while high-priority jobs they were behind still wait. Event-driven: the test
waits for the jobs' outcomes (WorkerUtils.wait_for, on LISTEN)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import psycopg
import pytest

from pgrun import AsyncWorkerUtils, PriorityAging, WorkerUtils
from support import scalar

LOAD = 40        # high-priority jobs always waiting: ten times the worker's concurrency
LOW_JOBS = 20
TASKS = ["--tasks", "tasks.aging_tasks", "--concurrency", "4"]


def _add(conn, task: str, count: int, priority: int) -> list[int]:
    rows = conn.execute(
        "select id from pgrun.add_jobs(array(select row(%s, %s::json, null, null, null, null, %s, null, null,"
        " null)::pgrun.job_spec from generate_series(1, %s)))",
        (task, json.dumps({}), priority, count)).fetchall()
    return [r[0] for r in rows]


def test_aged_low_priority_jobs_run_under_constant_high_priority_load(conn, recording_workers):
    utils = WorkerUtils(conn)
    conn.execute("select pgrun.set_retention(interval '1 hour', null, null, task_identifier => 'aging.high')")
    low = _add(conn, "aging.low", LOW_JOBS, 5)
    first_high = _add(conn, "aging.high", LOAD, 0)
    utils.watch_jobs(low + first_high)   # outcomes kept for wait_for
    worker = recording_workers.start(*TASKS)

    # aging off: every one of the first high-priority jobs runs (and is replaced), no low one
    for job_id in first_high:
        assert utils.wait_for(job_id, timeout=30).ok
    assert scalar(conn, "select count(*) from pgrun.jobs where task_identifier = 'aging.low' "
                        "and state = 'available'") == LOW_JOBS
    assert scalar(conn, "select count(*) from pgrun.jobs where task_identifier = 'aging.high' "
                        "and state in ('available', 'running')") >= LOAD

    # aging on, one priority per second: the worker's next maintenance run ages the low jobs
    # (waiting longest) past the high ones, and they all run
    utils.set_priority_aging(1)
    finished = [utils.wait_for(job_id, timeout=60) for job_id in low]
    assert all(result.ok for result in finished)
    worker.wait_for_line("maintenance: priorities aged", timeout=5)

    # ... while the load went on: high-priority jobs that were waiting before the first low job
    # finished ran only after the last one had (completed high-priority jobs are kept)
    first, last = min(r.finished_at for r in finished), max(r.finished_at for r in finished)
    assert scalar(conn, "select count(*) from pgrun.jobs where task_identifier = 'aging.high' "
                        "and created_at < %s and coalesce(finished_at, 'infinity') > %s",
                  (first, last)) >= LOAD // 2
    own, aged = conn.execute("select array_agg(distinct base_priority), max(priority) from pgrun.jobs "
                             "where id = any(%s)", (low,)).fetchone()
    assert own == [5] and aged < 0


def test_the_setting_from_python_sync_and_async(dsn):
    with WorkerUtils(dsn) as utils:
        assert utils.priority_aging() == PriorityAging(None, None)
        utils.set_priority_aging(timedelta(minutes=1), max_steps=10)
        assert utils.priority_aging() == PriorityAging(timedelta(minutes=1), 10)
        utils.set_priority_aging(2.5)   # seconds
        assert utils.priority_aging() == PriorityAging(timedelta(seconds=2.5), None)
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="step must be at least 1 second"):
            utils.set_priority_aging(0.5)
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="max_steps must be at least 1"):
            utils.set_priority_aging(60, max_steps=0)
        assert utils.priority_aging() == PriorityAging(timedelta(seconds=2.5), None)

    async def run() -> list[PriorityAging]:
        async with AsyncWorkerUtils(dsn) as utils:
            seen = [await utils.priority_aging()]
            await utils.set_priority_aging(None)
            return [*seen, await utils.priority_aging()]

    assert asyncio.run(run()) == [PriorityAging(timedelta(seconds=2.5), None), PriorityAging(None, None)]
