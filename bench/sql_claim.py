"""Claim + complete throughput of pgrun's SQL core, with no runner in the way.

N client processes (default 4), each with its own connection, loop:

    select id from pgrun.get_jobs(worker, max_jobs => B);       -- one transaction
    select pgrun.complete_held_jobs(worker, ids);               -- another

Scenarios:
  1k     1,000 queued jobs, drained; refilled and drained again until --seconds of
         draining have been measured (the queue is 1k deep at the start of each round).
  1m     1,000,000 queued jobs (PGRUN_BENCH_1M_JOBS to change), claimed for --seconds.
  stuck  100 named queues of 1,000 jobs each, every queue locked by a running job of
         a fake worker, plus free jobs; the rate at which the free jobs are claimed,
         and the plan of one get_jobs call (it must not walk the stuck jobs).

The script creates its own database (pgrun_bench_<pid>), installs pgrun with
pgrun.migrate.migrate, drops the database at the end, and prints one JSON line per
measurement, the plans, then a markdown table. Connection: --connection (a
conninfo for any database of the server; default dbname=postgres), else libpq's
PG* variables.

    .venv/bin/python bench/sql_claim.py [--clients 4] [--batches 1,10] [--seconds 10]
        [--scenarios 1k,1m,stuck]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import re
import sys
import time
from dataclasses import asdict, dataclass

import psycopg
from psycopg import conninfo as pg_conninfo

from pgrun.migrate import migrate

CHUNK = 100_000
STUCK_QUEUES = 100
STUCK_JOBS_PER_QUEUE = 1_000
STUCK_FREE_JOBS = 200_000
FAKE_WORKER = "bench-fake-worker"


@dataclass
class Measurement:
    scenario: str
    batch: int
    clients: int
    jobs: int
    seconds: float
    jobs_per_s: float
    queued_at_start: int


# -- clients -------------------------------------------------------------------


def client(dsn: str, worker_id: str, batch: int, drain: bool, seconds: float,
           start: mp.Barrier, stop: mp.Value, results: mp.Queue) -> None:
    """Runs rounds until told to stop: each round starts and ends on `start`.
    drain: stop the round at the first empty claim; otherwise at the deadline
    (or an empty claim, when the claimable jobs ran out)."""
    total = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        claim = "select id from pgrun.get_jobs(%s, max_jobs => %s)"
        complete = "select pgrun.complete_held_jobs(%s, %s)"
        while True:
            start.wait()
            if stop.value:
                break
            deadline = time.monotonic() + seconds
            while drain or time.monotonic() < deadline:
                ids = [row[0] for row in conn.execute(claim, (worker_id, batch), prepare=True)]
                if not ids:
                    break
                conn.execute(complete, (worker_id, ids), prepare=True)
                total += len(ids)
            start.wait()
    results.put(total)


def measure(dsn: str, scenario: str, batch: int, clients: int, seconds: float, drain: bool,
            refill=None) -> Measurement:
    """Runs `clients` processes; with `refill`, round after round (refill() before
    each, untimed) until `seconds` of rounds have been timed; else one round."""
    ctx = mp.get_context("fork")
    start = ctx.Barrier(clients + 1)
    stop = ctx.Value("b", 0)
    results = ctx.Queue()
    procs = [ctx.Process(target=client, args=(dsn, f"bench-worker-{i:03d}", batch, drain, seconds,
                                              start, stop, results)) for i in range(clients)]
    for p in procs:
        p.start()
    elapsed = 0.0
    queued_at_start = None
    while True:
        queued = refill() if refill else count_claimable(dsn)
        if queued_at_start is None:
            queued_at_start = queued
        start.wait()
        t0 = time.perf_counter()
        start.wait()
        elapsed += time.perf_counter() - t0
        if not refill or elapsed >= seconds:
            break
    stop.value = 1
    start.wait()
    jobs = sum(results.get() for _ in procs)
    for p in procs:
        p.join()
        if p.exitcode:
            raise SystemExit(f"a client process failed (exit code {p.exitcode})")
    return Measurement(scenario, batch, clients, jobs, round(elapsed, 3),
                       round(jobs / elapsed, 1) if elapsed else 0.0, queued_at_start)


# -- set-ups ---------------------------------------------------------------------


def reset(conn: psycopg.Connection) -> None:
    conn.execute("truncate pgrun._private_jobs, pgrun._private_job_queues, pgrun._private_workers")


def vacuum(conn: psycopg.Connection) -> None:
    """Clean tables and no checkpoint pending from the set-up: every measurement
    starts from the same state (autovacuum may be off on the server)."""
    conn.execute("vacuum analyze pgrun._private_jobs")
    conn.execute("vacuum analyze pgrun._private_job_queues")
    conn.execute("checkpoint")


def count_claimable(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute("select count(*) from pgrun._private_jobs"
                            " where locked_at is null and queue_name is null").fetchone()[0]


def insert_free_jobs(conn: psycopg.Connection, count: int) -> None:
    """Direct inserts in chunks: the fast way to a deep queue."""
    for done in range(0, count, CHUNK):
        conn.execute("insert into pgrun._private_jobs (task_identifier, payload, run_at)"
                     " select 'bench', '{}', now() - interval '1 minute' from generate_series(1, %s)",
                     (min(CHUNK, count - done),))


def add_queued_jobs(conn: psycopg.Connection, prefix: str, queues: int, jobs_per_queue: int) -> None:
    conn.execute("insert into pgrun._private_job_queues (queue_name)"
                 " select %s || q from generate_series(1, %s) q", (f"{prefix}-", queues))
    conn.execute("insert into pgrun._private_jobs (queue_name, task_identifier, payload, run_at)"
                 " select %s || q, 'bench', '{}', now() - interval '1 minute'"
                 " from generate_series(1, %s) q, generate_series(1, %s) n",
                 (f"{prefix}-", queues, jobs_per_queue))


def setup_stuck(conn: psycopg.Connection) -> None:
    reset(conn)
    add_queued_jobs(conn, "stuck", STUCK_QUEUES, STUCK_JOBS_PER_QUEUE)
    # The fake worker takes each queue's head and never finishes it.
    held = conn.execute("select count(*) from pgrun.get_jobs(%s, max_jobs => %s)",
                        (FAKE_WORKER, STUCK_QUEUES)).fetchone()[0]
    assert held == STUCK_QUEUES, held
    insert_free_jobs(conn, STUCK_FREE_JOBS)
    vacuum(conn)


# -- plans -----------------------------------------------------------------------


def claim_plan(dsn: str, batch: int) -> str:
    """The plan, with actual rows and buffers, of the claiming statement inside
    one get_jobs call (auto_explain sees statements nested in functions). The
    call is rolled back: nothing is claimed."""
    plans: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.add_notice_handler(lambda diag: plans.append(diag.message_primary or ""))
        conn.execute("load 'auto_explain'")
        for setting, value in [("log_min_duration", "0"), ("log_analyze", "on"), ("log_buffers", "on"),
                               ("log_timing", "on"), ("log_nested_statements", "on"),
                               ("log_level", "notice")]:
            conn.execute(f"set auto_explain.{setting} = {value}")
        # Warm the plan cache as a running worker would have, then explain.
        for _ in range(7):
            plans.clear()
            with conn.transaction(force_rollback=True):
                conn.execute("select count(*) from pgrun.get_jobs('bench-explainer', max_jobs => %s)",
                             (batch,))
    claim = [p for p in plans if "with recursive" in p]
    return claim[0] if claim else "\n\n".join(plans)


def plan_summary(plan: str) -> str:
    duration = re.search(r"duration: ([\d.]+) ms", plan)
    top = re.search(r"Buffers: ([^\n]+)", plan)
    probes = re.findall(
        r"Index (?:Only )?Scan using jobs_ready_queued[^\n]*\(actual [^)]*rows=(\d+) loops=(\d+)\)", plan)
    cost = re.search(r"^\S[^\n]*\(cost=[\d.]+\.\.([\d.]+)", plan, re.M)
    jit = re.search(r"JIT:.*?Total ([\d.]+) ms", plan, re.S)
    parts = [f"{duration.group(1)} ms" if duration else "?",
             f"estimated cost {cost.group(1)}" if cost else "no cost",
             f"JIT {jit.group(1)} ms" if jit else "no JIT",
             f"top node buffers: {top.group(1)}" if top else "no buffers line"]
    if probes:
        parts.append("jobs_ready_queued probes (rows x loops): "
                     + ", ".join(f"{rows}x{loops}" for rows, loops in probes))
    return "; ".join(parts)


# -- machine -----------------------------------------------------------------------


def machine(conn: psycopg.Connection) -> dict:
    mem_kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    settings = dict(conn.execute(
        "select name, current_setting(name) from pg_settings where name = any(%s)",
        (["shared_buffers", "synchronous_commit", "fsync", "work_mem", "max_wal_size",
          "autovacuum", "jit", "random_page_cost", "effective_cache_size"],)).fetchall())
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu": platform.processor() or platform.machine(),
        "postgres": conn.execute("select version()").fetchone()[0],
        "settings": settings,
        "python": platform.python_version(),
        "psycopg": psycopg.__version__,
    }


# -- scenarios ---------------------------------------------------------------------


def show_plan(dsn: str, name: str, batch: int, full: bool) -> None:
    plan = claim_plan(dsn, batch)
    print(json.dumps({"plan": name, "batch": batch, "summary": plan_summary(plan)}), flush=True)
    if full:
        print(plan, flush=True)


def run_1k(conn, dsn, args, batches, record) -> None:
    def refill() -> int:
        vacuum(conn)
        conn.execute("select count(*) from pgrun.add_jobs(array("
                     " select row('bench', null, null, null, null, null, null, null)::pgrun.job_spec"
                     " from generate_series(1, 1000)))")
        return 1000

    for batch in batches:
        reset(conn)
        record(measure(dsn, "1k", batch, args.clients, args.seconds, drain=True, refill=refill))


def run_1m(conn, dsn, args, batches, record, jobs: int) -> None:
    reset(conn)
    t0 = time.perf_counter()
    insert_free_jobs(conn, jobs)
    vacuum(conn)
    print(json.dumps({"setup": "1m", "jobs": jobs,
                      "insert_and_vacuum_seconds": round(time.perf_counter() - t0, 1)}), flush=True)
    show_plan(dsn, "1m", max(batches), full=False)
    name = "1M" if jobs == 1_000_000 else f"{jobs:,}"
    for batch in batches:
        vacuum(conn)
        record(measure(dsn, name, batch, args.clients, args.seconds, drain=False))


def run_stuck(conn, dsn, args, batches, record) -> None:
    t0 = time.perf_counter()
    setup_stuck(conn)
    print(json.dumps({"setup": "stuck", "stuck_jobs": STUCK_QUEUES * (STUCK_JOBS_PER_QUEUE - 1),
                      "running": STUCK_QUEUES, "free_jobs": STUCK_FREE_JOBS,
                      "seconds": round(time.perf_counter() - t0, 1)}), flush=True)
    show_plan(dsn, "stuck", max(batches), full=True)
    for batch in batches:
        vacuum(conn)
        record(measure(dsn, "stuck (free jobs)", batch, args.clients, args.seconds, drain=False))
    # Ten free named queues beside the stuck ones: now the claim has queues to
    # look at, and it probes each queue once instead of walking its jobs.
    add_queued_jobs(conn, "free", 10, 100)
    vacuum(conn)
    show_plan(dsn, "stuck + 10 free named queues", max(batches), full=True)
    still_stuck = conn.execute("select count(*) from pgrun._private_jobs"
                               " where queue_name like 'stuck-%' and locked_at is null").fetchone()[0]
    assert still_stuck == STUCK_QUEUES * (STUCK_JOBS_PER_QUEUE - 1), still_stuck


# -- main --------------------------------------------------------------------------


def table(rows: list[Measurement]) -> str:
    lines = ["| scenario | batch | clients | queued at start | jobs | seconds | jobs/s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {m.scenario} | {m.batch} | {m.clients} | {m.queued_at_start:,} | {m.jobs:,} | "
              f"{m.seconds:.2f} | {m.jobs_per_s:,.0f} |" for m in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connection", default=os.environ.get("DATABASE_URL", "dbname=postgres"),
                        help="conninfo of any database on the server (default: dbname=postgres)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batches", default="1,10")
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("PGRUN_BENCH_SECONDS", 10)))
    parser.add_argument("--scenarios", default="1k,1m,stuck")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    scenarios = args.scenarios.split(",")

    dbname = f"pgrun_bench_{os.getpid()}"
    dsn = pg_conninfo.make_conninfo(args.connection, dbname=dbname)
    with psycopg.connect(args.connection, autocommit=True) as admin:
        admin.execute(f'create database "{dbname}"')
    rows: list[Measurement] = []

    def record(m: Measurement) -> None:
        rows.append(m)
        print(json.dumps(asdict(m)), flush=True)

    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            migrate(conn, "pgrun")
            print(json.dumps({"machine": machine(conn)}), flush=True)
            if "1k" in scenarios:
                run_1k(conn, dsn, args, batches, record)
            if "1m" in scenarios:
                million = int(os.environ.get("PGRUN_BENCH_1M_JOBS", 1_000_000))
                run_1m(conn, dsn, args, batches, record, million)
            if "stuck" in scenarios:
                run_stuck(conn, dsn, args, batches, record)
    finally:
        with psycopg.connect(args.connection, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{dbname}" with (force)')
    print()
    print(table(rows))


if __name__ == "__main__":
    sys.exit(main())
