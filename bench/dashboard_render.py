"""How fast the dashboard's pages render on a million jobs: a real `pgrun dashboard` process,
timed from a client on the same machine (wall time of each HTTP request, the response read).

The script creates its own database (pgrun_bench_dashboard_<pid>), installs pgrun, fills it
server-side through pgrun's own functions (add_jobs in chunks of 50,000, then complete_jobs
and permanently_fail_jobs, with a retention that keeps final jobs):

    1,000,000 jobs of 20 tasks; the first 250,000 a third in 50 named queues and a quarter of
    those scheduled an hour ahead; ids 250,001..850,000 completed (kept), 850,001..900,000
    failed; the rest available. Outcome rollups of 10 workers x 20 tasks x 120 minutes.

then VACUUM ANALYZE, maintain()'s count, and times each page REQUESTS times after one warm-up
request (the pool opening). Prints a markdown table (median, p95, max in ms) and exits 1 if
the median of the overview or of the job list (unfiltered, deep, by state, task or key) is
200 ms or more. Drops the database at the end
unless --keep.

    .venv/bin/python bench/dashboard_render.py [--jobs 1000000] [--requests 20] [--keep]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg

from pgrun.migrate import migrate

PGRUN = Path(sys.executable).with_name("pgrun")  # the virtualenv's command
CHUNK = 50_000
TARGET_MS = 200.0


def _fill(conn: psycopg.Connection, jobs: int) -> None:
    conn.execute("select pgrun.set_retention('7 days', '7 days', '7 days')")
    queued = jobs // 4
    for start in range(1, jobs + 1, CHUNK):
        end = min(start + CHUNK - 1, jobs)
        conn.execute(
            "select count(*) from pgrun.add_jobs(array(select row("
            " 'task_' || (i %% 20), json_build_object('n', i, 'email', 'user' || i || '@example.com'),"
            " case when i <= %s and i %% 3 = 0 then 'queue_' || (i %% 50) end,"
            " case when i <= %s and i %% 3 = 0 and i %% 4 = 0 then now() + interval '1 hour' end,"
            " 25, null, 0, null, null, null)::pgrun.job_spec from generate_series(%s::int, %s::int) as i))",
            (queued, queued, start, end))
        print(f"  added {end:,} jobs", file=sys.stderr, flush=True)
    done_from, done_to, failed_to = queued + 1, int(jobs * 0.85), int(jobs * 0.9)
    for first in range(done_from, done_to + 1, CHUNK):
        last = min(first + CHUNK - 1, done_to)
        conn.execute("select count(*) from pgrun.complete_jobs("
                     "array(select generate_series(%s::bigint, %s)))", (first, last))
        print(f"  completed up to {last:,}", file=sys.stderr, flush=True)
    for first in range(done_to + 1, failed_to + 1, CHUNK):
        conn.execute("select count(*) from pgrun.permanently_fail_jobs("
                     "array(select generate_series(%s::bigint, %s)), 'BenchError: made to fail')",
                     (first, min(first + CHUNK - 1, failed_to)))
    conn.execute(
        "insert into pgrun._private_outcome_minutes"
        " (minute, worker_id, task_identifier, completed, retried, failed)"
        " select date_trunc('minute', now()) - m * interval '1 minute', 'bench-worker-' || w, 'task_' || t,"
        " 50 + (m * 7 + t) % 40, (m + t) % 5, (m * t) % 3"
        " from generate_series(0, 119) as m, generate_series(1, 10) as w, generate_series(0, 19) as t")
    conn.execute("vacuum analyze pgrun._private_jobs")
    conn.execute("select pgrun._refresh_job_counts(now(), true)")


def _pages(jobs: int) -> list[tuple[str, dict[str, str], bool]]:
    """(path, headers, held to the 200 ms target): the overview and the job list as people open
    them; the rest are measured and shown, among them the filters whose matches are rare among
    old ids (list_jobs walks ids newest first until it has a page: see docs/operations.md)."""
    middle = jobs // 2
    fragment = {"hx-request": "true"}  # a page's live refresh
    return [
        ("/", {}, True),
        ("/", fragment, True),
        ("/jobs", {}, True),
        ("/jobs", fragment, True),
        ("/jobs?state=failed", {}, True),
        ("/jobs?state=available&task=task_7", {}, True),
        (f"/jobs?before={middle}", {}, True),  # a page deep in the table
        (f"/jobs?state=completed&before={middle}", {}, True),
        ("/jobs?key=nothing-has-this-key", {}, True),
        ("/jobs?queue=queue_3&state=available", {}, False),
        ("/jobs?queue=queue_3", {}, False),  # its jobs are all among the oldest quarter
        ("/jobs?task=task_3&payload=user999@", {}, False),
        (f"/jobs/{middle}", {}, False),
        ("/queues", {}, False),
        ("/workers", {}, False),
        ("/audit", {}, False),
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as response:
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{url}: HTTP {response.status}")
    return (time.perf_counter() - started) * 1000


def _serve(dsn: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": dsn}
    server = subprocess.Popen([str(PGRUN), "dashboard", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            _get(base + "/static/htmx.min.js", {})
            return server, base
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("pgrun dashboard did not start") from None
            time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    parser.add_argument("--connection", default="dbname=postgres", help="a conninfo for any database")
    args = parser.parse_args()

    name = f"pgrun_bench_dashboard_{os.getpid()}"
    with psycopg.connect(args.connection, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    dsn = psycopg.conninfo.make_conninfo(args.connection, dbname=name)
    server = None
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            migrate(conn, "pgrun")
            started = time.monotonic()
            _fill(conn, args.jobs)
            print(f"filled in {time.monotonic() - started:.0f} s", file=sys.stderr)
        server, base = _serve(dsn)
        print("| page | median ms | p95 ms | max ms |\n|---|---|---|---|")
        slow = []
        for path, headers, held in _pages(args.jobs):
            _get(base + path, headers)  # the pool opens, plans are made
            times = sorted(_get(base + path, headers) for _ in range(args.requests))
            median, p95 = statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]
            label = path + (" (htmx refresh)" if headers else "") + ("" if held else " *")
            print(f"| `{label}` | {median:.1f} | {p95:.1f} | {times[-1]:.1f} |", flush=True)
            if held and median >= TARGET_MS:
                slow.append(label)
        print("\n`*`: measured, not held to the target", flush=True)
        if slow:
            print(f"over {TARGET_MS:.0f} ms (median): {', '.join(slow)}", file=sys.stderr)
        return 1 if slow else 0
    finally:
        if server is not None:
            server.kill()
            server.wait(10)
        if args.keep:
            print(f"kept database {name}", file=sys.stderr)
        else:
            with psycopg.connect(args.connection, autocommit=True) as admin:
                admin.execute(f'drop database if exists "{name}" with (force)')


if __name__ == "__main__":
    sys.exit(main())
