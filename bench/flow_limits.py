"""Flow control's cost in the claim (issue 10): the drain of jobs spread over 10,000 tenant keys
each limited to 2 running, against the same number of jobs with no limit, and the claim's latency
with 1,000,000 jobs waiting in those limited keys. pgrun's SQL core only, no runner between
(the clients, set-ups and measurements of bench/sql_claim.py).

Scenarios (sizes from PGRUN_BENCH_* variables):
  unlimited     JOBS (PGRUN_BENCH_FLOW_JOBS, 100,000) jobs without a queue or a limit, drained.
  tenants       the same number of jobs over TENANTS (PGRUN_BENCH_FLOW_TENANTS, 10,000) queues
                tenant-1..N, with set_limit('tenant-*', max_running => 2), drained.
  tenants-1m    MILLION (PGRUN_BENCH_1M_JOBS) jobs over the same limited tenants: the claim's
                latency (one session alone, and the clients' for --seconds).
Before each measurement, one claim's server time and buffers (EXPLAIN ANALYZE, rolled back); each
drain also records the buffers and WAL per job it drained (io), which the machine's load leaves alone.
  limit-keys    JOBS jobs without a queue, each with limit_keys {tenant-N} over TENANTS keys
                limited to 2 running, drained (the limit_keys form of the tenants scenario).

    .venv/bin/python bench/flow_limits.py [--clients 4] [--batch 10] [--seconds 10]
        [--scenarios unlimited,tenants,tenants-1m,limit-keys]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict

import psycopg
from psycopg import conninfo as pg_conninfo
from sql_claim import (
    CHUNK,
    MILLION,
    TASK,
    count_claimable,
    counters_delta,
    env_int,
    explain_claim,
    machine,
    measure,
    reset,
    server_counters,
    solo_claims,
    vacuum,
)

from pgrun.migrate import migrate

JOBS = env_int("PGRUN_BENCH_FLOW_JOBS", 100_000)
TENANTS = env_int("PGRUN_BENCH_FLOW_TENANTS", 10_000)
SCENARIOS = ("unlimited", "tenants", "tenants-1m", "limit-keys")


def fill(conn: psycopg.Connection, count: int, *, form: str) -> None:
    """count jobs of TASK: form 'plain' (no queue), 'queue' (queue tenant-<n % TENANTS>) or
    'key' (no queue, limit_keys {tenant-<n % TENANTS>}), specs made server-side."""
    tenant = "'tenant-' || (1 + (g - 1) %% %(tenants)s::int)"
    queue = tenant if form == "queue" else "null"
    keys = f"array[{tenant}]" if form == "key" else "null"
    for done in range(0, count, CHUNK):
        conn.execute(
            "select count(*) from pgrun.add_jobs(array("
            f" select row(%(task)s, null, {queue}, null, null, null, null, null, null, {keys})"
            "::pgrun.job_spec"
            " from generate_series(%(first)s::int, %(last)s::int) g order by g))",
            {"task": TASK, "tenants": TENANTS, "first": done + 1, "last": min(done + CHUNK, count)})


def server_side(dsn: str, batch: int) -> dict:
    """One claim's server time and buffers (EXPLAIN ANALYZE of a warm session's call, rolled
    back): the buffer count does not depend on the machine's load."""
    summary, _, _ = explain_claim(dsn, batch)
    return {"execution_ms": summary["execution_ms"], "buffers_total": summary["buffers_total"]}


def drain(conn, dsn, args, name: str, form: str) -> dict:
    reset(conn)
    fill(conn, JOBS, form=form)
    vacuum(conn)
    server = server_side(dsn, args.batch)
    counters = server_counters(dsn)
    m = measure(dsn, name, args.batch, args.clients, args.seconds, drain=True, queued=lambda: JOBS)
    # (buffers and WAL per job drained: the one figure the machine's load leaves alone)
    m.io = counters_delta(counters, server_counters(dsn), m.jobs)
    return {**asdict(m), "server": server}


def latency_1m(conn, dsn, args) -> dict:
    reset(conn)
    fill(conn, MILLION, form="queue")
    vacuum(conn)
    server = server_side(dsn, args.batch)
    solo = solo_claims(dsn, args.batch, 200)
    m = measure(dsn, "tenants-1m", args.batch, args.clients, args.seconds, drain=False,
                queued=lambda: count_claimable(dsn))
    return {**asdict(m), "server": server, "solo_claim_ms": solo}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connection", default=os.environ.get("DATABASE_URL", "dbname=postgres"))
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args()
    scenarios = args.scenarios.split(",")
    dbname = f"pgrun_bench_flow_{os.getpid()}"
    dsn = pg_conninfo.make_conninfo(args.connection, dbname=dbname)
    with psycopg.connect(args.connection, autocommit=True) as admin:
        admin.execute(f'create database "{dbname}"')
    results = {}
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            migrate(conn, "pgrun")
            print(json.dumps({"machine": machine(conn), "jobs": JOBS, "tenants": TENANTS}), flush=True)
            conn.execute("select pgrun.set_limit('tenant-*', max_running => 2)")
            for name, form in (("unlimited", "plain"), ("tenants", "queue"), ("limit-keys", "key")):
                if name in scenarios:
                    results[name] = drain(conn, dsn, args, name, form)
                    print(json.dumps(results[name]), flush=True)
            if "tenants-1m" in scenarios:
                results["tenants-1m"] = latency_1m(conn, dsn, args)
                print(json.dumps(results["tenants-1m"]), flush=True)
    finally:
        with psycopg.connect(args.connection, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{dbname}" with (force)')
    print()
    print("| scenario | jobs | jobs/s | vs unlimited | claim p50 ms | p99 | solo p50 / p99 ms |"
          " one claim: server ms, buffers |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    base = results.get("unlimited", {}).get("jobs_per_s")
    for name, r in results.items():
        ratio = f"{r['jobs_per_s'] / base:.2f}" if base else ""
        solo = r.get("solo_claim_ms")
        solo_text = f"{solo['p50']} / {solo['p99']}" if solo else "-"
        server = f"{r['server']['execution_ms']}, {r['server']['buffers_total']}"
        print(f"| {name} | {r['jobs']:,} | {r['jobs_per_s']:,.0f} | {ratio} | {r['claim_ms'].get('p50')} |"
              f" {r['claim_ms'].get('p99')} | {solo_text} | {server} |")


if __name__ == "__main__":
    sys.exit(main())
