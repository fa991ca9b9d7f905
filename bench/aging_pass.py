"""What the priority-aging pass costs (pgrun._age_priorities, the part of maintain() that
ages): with aging off, with jobs to age, and with nothing left to age (its scan alone).

On a fresh database of the local server (created here, dropped at the end), --jobs
available jobs (default 100,000, a tenth of them in 100 named queues) that have waited an
hour. Timed by the client, each call in its own transaction, max_rows 1000 as maintain()'s:

  baseline  `select 1`: 20 calls, the median (the round trip alone);
  off       aging off: 20 calls, the median (reads the setting, returns);
  catch-up  aging on (step 1 minute, max_steps 30): calls until one ages nothing; how
            many calls, the jobs aged and the time they took (each call works for at most
            about a second of batches), so jobs aged per second;
  sweep     then calls until the pass has gone through every job once more and finds
            nothing to age (every job at its aged value): how many calls and their time,
            what visiting that many waiting jobs costs when there is nothing to do.

    .venv/bin/python bench/aging_pass.py [--jobs 100000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import psycopg

from pgrun.migrate import migrate

PASS = "select pgrun._age_priorities(now(), 1000)"
CURSOR = "select value from pgrun._private_settings where name = 'priority_aging_after'"


def timed(conn: psycopg.Connection, query: str = PASS) -> tuple[float, int]:
    started = time.perf_counter()
    aged = conn.execute(query).fetchone()[0]
    return (time.perf_counter() - started) * 1000, aged


def at_start(conn: psycopg.Connection) -> bool:
    row = conn.execute(CURSOR).fetchone()
    return row is None or row[0] == "0"


def measure(conn: psycopg.Connection, jobs: int) -> list[tuple[str, str, str]]:
    conn.execute("select count(*) from pgrun.add_jobs(array(select row('bench', null, "
                 "case when n %% 10 = 0 then 'q-' || n %% 100 end, now() - interval '1 hour', null, null, 0, "
                 "null, null, null)::pgrun.job_spec from generate_series(1, %s) as n))", (jobs,))
    conn.execute("vacuum analyze pgrun._private_jobs")
    baseline = statistics.median(timed(conn, "select 1")[0] for _ in range(20))
    off = statistics.median(timed(conn)[0] for _ in range(20))
    conn.execute("select pgrun.set_priority_aging(interval '1 minute', 30)")
    calls, total_ms, total_aged = 0, 0.0, 0
    while True:   # until a whole sweep ages nothing
        ms, aged = timed(conn)
        calls, total_ms, total_aged = calls + 1, total_ms + ms, total_aged + aged
        if at_start(conn) and aged == 0:
            break
    sweep_calls, sweep_ms = 0, 0.0
    while True:   # one more sweep, nothing to age
        ms, aged = timed(conn)
        assert aged == 0
        sweep_calls, sweep_ms = sweep_calls + 1, sweep_ms + ms
        if at_start(conn):
            break
    return [("baseline (`select 1`)", f"{baseline:.2f} ms a call", "-"),
            ("off", f"{off:.2f} ms a call", "-"),
            ("catch-up", f"{calls} calls, {total_ms:.0f} ms",
             f"{total_aged} jobs aged, {total_aged / (total_ms / 1000):.0f} jobs/s"),
            ("sweep (nothing to age)", f"{sweep_calls} calls, {sweep_ms:.0f} ms",
             f"{jobs} jobs visited, {1000 * sweep_ms / jobs:.1f} µs a job")]


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/aging_pass.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100_000, help="available jobs waiting")
    parser.add_argument("--connection", default=os.environ.get("DATABASE_URL", "dbname=postgres"),
                        help="a conninfo for any database of the server")
    args = parser.parse_args()
    name = f"pgrun_aging_pass_{os.getpid()}"
    with psycopg.connect(args.connection, autocommit=True) as admin:
        admin.execute(f"create database {name}")
    try:
        with psycopg.connect(psycopg.conninfo.make_conninfo(args.connection, dbname=name),
                             autocommit=True) as conn:
            migrate(conn, "pgrun")
            rows = measure(conn, args.jobs)
    finally:
        with psycopg.connect(args.connection, autocommit=True) as admin:
            admin.execute(f"drop database if exists {name} (force)")
    print("| pass | time | work |\n|---|---|---|")
    for row in rows:
        print(f"| {' | '.join(row)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
