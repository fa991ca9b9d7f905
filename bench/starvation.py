"""Priority starvation: under a constant load of high-priority jobs, do low-priority jobs run?

pgrun's order is strict by default: a claim takes the lowest `priority` first, then the
earliest run_at. This measures what that means when high-priority work never runs out,
and, with --aging, what priority aging (set_priority_aging) changes. On a fresh database
of the local server (created here, dropped at the end), one `pgrun` worker process
(concurrency 10, a no-op task, maintenance every 10 s as by default) and:

  1. 1,000 low-priority jobs (priority 10) are added;
  2. a producer keeps at least 2,000 high-priority jobs (priority 0) available for
     --seconds (the "loaded" phase), always more than the worker can take;
  3. the producer stops, and the low-priority jobs drain (the "after" phase).

Every second: the jobs left of each priority (their own priority: an aged job counts as
what it was added as). Prints a table: how many low-priority jobs ran while high-priority
work waited, when the first of them ran, how many high-priority jobs ran per second under
load, and how long the rest of the low-priority jobs took once the load stopped.

With --aging STEP (a PostgreSQL interval, e.g. 2s) the run is made twice, strict order
first and then with aging by STEP, each on a fresh database, and the table has a row for
each: the ratio of their high-priority rates is measured within one invocation.

    .venv/bin/python bench/starvation.py [--seconds 60] [--aging 2s]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from pgrun.migrate import migrate  # noqa: E402
from support import WorkerProcess  # noqa: E402

LOW_JOBS, HIGH_FLOOR = 1_000, 2_000
COUNT = ("select count(*) filter (where coalesce(base_priority, priority) = 0), "
         "count(*) filter (where coalesce(base_priority, priority) = 10) from pgrun.jobs")


@dataclass
class Run:
    aging: str | None
    added_high: int = 0
    samples: list[tuple[str, float, int, int]] = field(default_factory=list)  # phase, s, high left, low left
    aged_per_pass: list[int] = field(default_factory=list)


def add(conn: psycopg.Connection, count: int, priority: int) -> None:
    conn.execute("select count(*) from pgrun.add_jobs(array(select row('chaos.noop', null, null, null, null, "
                 "null, %s, null, null, null)::pgrun.job_spec from generate_series(1, %s)))",
                 (priority, count))


def producer(dsn: str, stop: threading.Event, run: Run) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.wait(0.1):
            high, _ = conn.execute(COUNT).fetchone()
            if high < HIGH_FLOOR:
                add(conn, 2 * HIGH_FLOOR - high, 0)
                run.added_high += 2 * HIGH_FLOOR - high


def measure(base: str, seconds: float, aging: str | None) -> Run:
    name = f"pgrun_starvation_{os.getpid()}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"create database {name}")
    dsn = psycopg.conninfo.make_conninfo(base, dbname=name)
    run = Run(aging)
    worker = None
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            migrate(conn, "pgrun")
            if aging is not None:
                conn.execute("select pgrun.set_priority_aging(%s::interval)", (aging,))
            add(conn, LOW_JOBS, 10)
            add(conn, 2 * HIGH_FLOOR, 0)
            run.added_high = 2 * HIGH_FLOOR
            stop = threading.Event()
            feeding = threading.Thread(target=producer, args=(dsn, stop, run), daemon=True)
            feeding.start()
            worker = WorkerProcess(["--tasks", "tasks.chaos", "--concurrency", "10"], dsn)
            worker.wait_ready(60)
            started = time.monotonic()
            phase = "loaded"
            while True:
                now = time.monotonic() - started
                if phase == "loaded" and now >= seconds:
                    stop.set()
                    feeding.join(10)
                    phase = "after"
                high, low = conn.execute(COUNT).fetchone()
                run.samples.append((phase, now, run.added_high - high, low))   # high: done so far
                if phase == "after" and high == 0 and low == 0:
                    break
                if now > 4 * seconds + 120:
                    raise RuntimeError(f"the jobs did not drain: {high} high, {low} low left")
                time.sleep(1.0)   # sampling is by the clock: nothing to wait for
            run.aged_per_pass = [int(line.rsplit(" ", 1)[1]) for line in worker.lines
                                 if "maintenance: priorities aged" in line]
    finally:
        if worker is not None:
            worker.stop()
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f"drop database if exists {name} (force)")
    return run


def row(run: Run) -> str:
    loaded = [s for s in run.samples if s[0] == "loaded"]
    after = [s for s in run.samples if s[0] == "after"]
    end = loaded[-1]
    first_low = next((s[1] for s in loaded if s[3] < LOW_JOBS), None)
    low_done = next(s for s in after if s[3] == 0)
    high_rate = (end[2] - loaded[0][2]) / (end[1] - loaded[0][1])
    return (f"| {'aging, step ' + run.aging if run.aging else 'strict (no aging)'} | {end[1]:.0f} | "
            f"{LOW_JOBS - end[3]} | {'never' if first_low is None else f'{first_low:.0f} s'} | "
            f"{high_rate:.0f} | {end[3]} | {low_done[1] - after[0][1]:.0f} | "
            f"{len(run.aged_per_pass)} passes, {sum(run.aged_per_pass)} jobs |")


def table(runs: list[Run]) -> str:
    lines = ["| order | loaded phase (s) | low-priority jobs run under load | first low-priority job done "
             "| high-priority jobs/s under load | low-priority left when the load stopped "
             "| then drained in (s) | aging passes (maintenance) |",
             "|---|---|---|---|---|---|---|---|"]
    return "\n".join(lines + [row(run) for run in runs])


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/starvation.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the loaded phase")
    parser.add_argument("--aging", metavar="STEP", help="also run with priority aging by STEP (e.g. 2s)")
    parser.add_argument("--connection", default=os.environ.get("DATABASE_URL", "dbname=postgres"),
                        help="a conninfo for any database of the server")
    args = parser.parse_args()
    runs = [measure(args.connection, args.seconds, None)]
    if args.aging:
        runs.append(measure(args.connection, args.seconds, args.aging))
    print(table(runs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
