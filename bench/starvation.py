"""Priority starvation: under a constant load of high-priority jobs, do low-priority jobs run?

pgrun's order is strict: a claim takes the lowest `priority` first, then the earliest
run_at. This measures what that means when high-priority work never runs out. On a
fresh database of the local server (created here, dropped at the end), one `pgrun`
worker process (concurrency 10, a no-op task) and:

  1. 1,000 low-priority jobs (priority 10) are added;
  2. a producer keeps at least 2,000 high-priority jobs (priority 0) available for
     --seconds (the "loaded" phase), always more than the worker can take;
  3. the producer stops, and the low-priority jobs drain (the "after" phase).

Every second: jobs done per second of each priority (from the jobs left). Prints a
table of both phases: how many low-priority jobs ran while high-priority work waited,
and how long they took to run once it stopped.

    .venv/bin/python bench/starvation.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from pgrun.migrate import migrate  # noqa: E402
from support import WorkerProcess  # noqa: E402

LOW_JOBS, HIGH_FLOOR = 1_000, 2_000
COUNT = "select count(*) filter (where priority = 0), count(*) filter (where priority = 10) from pgrun.jobs"


def add(conn: psycopg.Connection, count: int, priority: int) -> None:
    conn.execute("select count(*) from pgrun.add_jobs(array(select row('chaos.noop', null, null, null, null, "
                 "null, %s, null, null, null)::pgrun.job_spec from generate_series(1, %s)))",
                 (priority, count))


def producer(dsn: str, stop: threading.Event) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.wait(0.1):
            high, _ = conn.execute(COUNT).fetchone()
            if high < HIGH_FLOOR:
                add(conn, 2 * HIGH_FLOOR - high, 0)


def run(base: str, seconds: float) -> list[tuple[str, float, int, int]]:
    name = f"pgrun_starvation_{os.getpid()}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"create database {name}")
    dsn = psycopg.conninfo.make_conninfo(base, dbname=name)
    samples: list[tuple[str, float, int, int]] = []   # phase, seconds, high left, low left
    worker = None
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            migrate(conn, "pgrun")
            add(conn, LOW_JOBS, 10)
            add(conn, 2 * HIGH_FLOOR, 0)
            stop = threading.Event()
            feeding = threading.Thread(target=producer, args=(dsn, stop), daemon=True)
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
                samples.append((phase, now, high, low))
                if phase == "after" and high == 0 and low == 0:
                    return samples
                if now > 4 * seconds + 120:
                    raise RuntimeError(f"the jobs did not drain: {high} high, {low} low left")
                time.sleep(1.0)   # sampling is by the clock: nothing to wait for
    finally:
        if worker is not None:
            worker.stop()
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f"drop database if exists {name} (force)")


def table(samples: list[tuple[str, float, int, int]]) -> str:
    loaded = [s for s in samples if s[0] == "loaded"]
    after = [s for s in samples if s[0] == "after"]
    low_run_loaded = LOW_JOBS - loaded[-1][3]
    low_done = next(s for s in after if s[3] == 0)
    lines = ["| phase | seconds | low-priority jobs run | low-priority jobs left at the end |",
             "|---|---|---|---|",
             f"| loaded (high-priority jobs always waiting) | {loaded[-1][1]:.0f} | {low_run_loaded} | "
             f"{loaded[-1][3]} |",
             f"| after (the high-priority load stopped) | {low_done[1] - after[0][1]:.0f} (until none "
             f"left) | {loaded[-1][3]} | 0 |"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/starvation.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the loaded phase")
    parser.add_argument("--connection", default=os.environ.get("DATABASE_URL", "dbname=postgres"),
                        help="a conninfo for any database of the server")
    args = parser.parse_args()
    print(table(run(args.connection, args.seconds)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
