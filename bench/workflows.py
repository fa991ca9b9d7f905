"""What workflows cost (docs/workflows.md, "Figures"), on a database of its own.

    .venv/bin/python bench/workflows.py [--chains 5] [--workflows 1000] [--workers 4]

1. A 10-step chain (each step depends on the one before), no-op steps, one worker process
   with concurrency 1: milliseconds per step from start_workflow's commit to the workflow
   completed, beside 10 independent no-op jobs drained by the same worker; the difference is
   the chain's overhead per step (the median of --chains runs).
2. --workflows workflows of 5 steps (a chain each), started one per transaction, then drained
   by --workers worker processes (concurrency 10 each): seconds and steps per second, beside
   the same number of plain no-op jobs drained by the same workers.

Prints one JSON line per figure. Connects with libpq's PG* variables (127.0.0.1:5432 postgres
by default); creates database pgrun_wfbench_<pid> and drops it at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg

import pgrun
from pgrun.workflows import Workflow, start_workflow

HERE = Path(__file__).resolve().parent
ADMIN = (f"host={os.environ.get('PGHOST', '127.0.0.1')} port={os.environ.get('PGPORT', '5432')} "
         f"user={os.environ.get('PGUSER', 'postgres')}")


def chain(steps: int) -> Workflow:
    workflow = Workflow("chain")
    for n in range(steps):
        workflow.step(f"s{n}", "noop", depends_on=[f"s{n - 1}"] if n else [])
    return workflow


def wait(conn: psycopg.Connection, query: str, interval: float = 0.002, timeout: float = 600) -> float:
    """Polls until query answers true; returns when (time.monotonic())."""
    deadline = time.monotonic() + timeout
    while not conn.execute(query).fetchone()[0]:
        if time.monotonic() > deadline:
            raise TimeoutError(query)
        time.sleep(interval)
    return time.monotonic()


def start_workers(dsn: str, count: int, concurrency: int) -> list[subprocess.Popen]:
    env = {**os.environ, "DATABASE_URL": dsn, "PYTHONPATH": str(HERE)}
    command = [sys.executable, "-m", "pgrun.cli", "--tasks", "workflow_bench_tasks",
               "--concurrency", str(concurrency), "--log-level", "warning"]
    workers = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL) for _ in range(count)]
    time.sleep(3)  # started and listening (their first claims find nothing)
    return workers


def stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(30)


NO_JOBS_LEFT = "select not exists (select from pgrun._private_jobs)"


def chain_overhead(conn: psycopg.Connection, dsn: str, runs: int) -> None:
    workers = start_workers(dsn, 1, 1)
    try:
        per_step, per_job = [], []
        for _ in range(runs):
            started = time.monotonic()
            workflow_id = start_workflow(conn, chain(10))
            done = wait(conn, "select state = 'completed' from pgrun._private_workflows "
                              f"where id = {workflow_id}")
            per_step.append((done - started) * 1000 / 10)
            started = time.monotonic()
            pgrun.add_jobs(conn, [pgrun.JobSpec("noop") for _ in range(10)])
            done = wait(conn, NO_JOBS_LEFT)
            per_job.append((done - started) * 1000 / 10)
    finally:
        stop(workers)
    step, job = statistics.median(per_step), statistics.median(per_job)
    print(json.dumps({"figure": "10-step chain", "runs": runs, "ms_per_step": round(step, 2),
                      "ms_per_independent_job": round(job, 2), "overhead_ms_per_step": round(step - job, 2)}))


def many_workflows(conn: psycopg.Connection, dsn: str, count: int, worker_count: int) -> None:
    utils = pgrun.WorkerUtils(conn)
    utils.pause_task("noop")  # nothing runs until every workflow is there and the workers are up
    started = time.monotonic()
    for _ in range(count):
        start_workflow(conn, chain(5))
    start_seconds = time.monotonic() - started
    workers = start_workers(dsn, worker_count, 10)
    try:
        utils.resume_task("noop")
        started = time.monotonic()
        done = wait(conn, "select not exists (select from pgrun._private_workflows "
                          "where state <> 'completed')", interval=0.05)
        seconds = done - started
        utils.pause_task("noop")
        pgrun.add_jobs(conn, [pgrun.JobSpec("noop") for _ in range(count * 5)])
        utils.resume_task("noop")
        started = time.monotonic()
        plain = wait(conn, NO_JOBS_LEFT, interval=0.05) - started
    finally:
        stop(workers)
    print(json.dumps({"figure": f"{count} workflows of 5 steps", "workers": worker_count,
                      "start_seconds": round(start_seconds, 2), "drain_seconds": round(seconds, 2),
                      "steps_per_second": round(count * 5 / seconds), "plain_jobs": count * 5,
                      "plain_drain_seconds": round(plain, 2),
                      "plain_jobs_per_second": round(count * 5 / plain)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chains", type=int, default=5)
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    name = f"pgrun_wfbench_{os.getpid()}"
    with psycopg.connect(f"{ADMIN} dbname=postgres", autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    dsn = f"{ADMIN} dbname={name}"
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            pgrun.migrate(conn)
            chain_overhead(conn, dsn, args.chains)
            many_workflows(conn, dsn, args.workflows, args.workers)
    finally:
        with psycopg.connect(f"{ADMIN} dbname=postgres", autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')


if __name__ == "__main__":
    main()
