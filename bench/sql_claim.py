"""Claim + complete throughput and claim latency of pgrun's SQL core (schema 2), no runner between.

N client processes (default 4), each with its own connection, register as
workers (and beat every few seconds on a second connection, as a runner does),
then loop:

    select id, lease from pgrun.claim_jobs(worker, B, array['bench'])
      where id is not null;                                         -- one transaction
    select * from pgrun.complete_attempts(worker, ids, leases);     -- another

A completion answered 'busy' (a row another transaction holds) is sent again
with the next one, as the runner does. Every claim statement is timed by the
client (wall time of the round trip, commit included); each measurement
reports jobs/s, the claim's p50/p95/p99/max, the busy answers, and the
server's side: EXPLAIN (ANALYZE, BUFFERS) of one claim_jobs call (rolled back)
with its time and buffer count, before and after the run, the statements
nested in it (auto_explain), and the latency of 200 claims one session makes
alone (solo). Also recorded: cluster-wide WAL/checkpoint counters over the run
(io) and, sampled each second, the load average and the statements other
databases were running (box): the machine may be shared. --wait-quiet SECONDS
(or PGRUN_BENCH_WAIT_QUIET) waits before each measurement until it is quiet.

Scenarios (sizes from PGRUN_BENCH_* variables; the defaults are the full sizes):
  1k            1,000 available jobs, drained; refilled and drained again until
                --seconds of draining have been measured.
  1m            1,000,000 available jobs (PGRUN_BENCH_1M_JOBS), claimed for --seconds.
  stuck         100 named queues of 1,000 jobs each, every queue full with a job a
                fake worker claimed (and keeps beating for), plus 200,000 free jobs
                (PGRUN_BENCH_STUCK_FREE_JOBS); the rate at which the free jobs go.
  future        1,000,000 jobs of the claiming task at a better priority (-10), due
                in a day (PGRUN_BENCH_FUTURE_JOBS), beside a claimable backlog.
  other-task    300,000 available jobs of a task the clients do not claim
                (PGRUN_BENCH_OTHER_JOBS), beside the clients' own backlog.
  entity-queues 50,000 named queues each holding one job due in a day
                (PGRUN_BENCH_ENTITY_QUEUES), beside a claimable backlog.
  churn         (not by default) a claim's cost against the jobs claimed since the
                last VACUUM: one session churns through 800,000 of PGRUN_BENCH_1M_JOBS.
The claimable backlog of future, other-task and entity-queues is
PGRUN_BENCH_BACKLOG (200,000) unqueued jobs at priority 0, topped up before each
measurement. The clients claim task 'bench' only. Every table is filled
server-side through pgrun.add_jobs (generate_series specs, chunks of 100,000),
then VACUUM ANALYZE and CHECKPOINT before each measurement.

The script creates its own database (pgrun_bench_<pid>), installs pgrun with
pgrun.migrate.migrate, drops the database at the end, and prints one JSON line
per measurement and per plan, then a markdown table. Connection: --connection
(a conninfo for any database of the server; default dbname=postgres), else
libpq's PG* variables. PGRUN_BENCH_PLANS=1 prints every nested plan in full
(by default: the stuck scenario's, and those of any claim of 2 ms or more).

    .venv/bin/python bench/sql_claim.py [--clients 4] [--batches 1,10] [--seconds 10]
        [--scenarios 1k,1m,stuck,future,other-task,entity-queues] [--wait-quiet 0]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field

import psycopg
from psycopg import conninfo as pg_conninfo

from pgrun.migrate import migrate


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


CHUNK = 100_000
TASK = "bench"
OTHER_TASK = "bench-other"
STUCK_QUEUES = 100
STUCK_JOBS_PER_QUEUE = 1_000
STUCK_FREE_JOBS = env_int("PGRUN_BENCH_STUCK_FREE_JOBS", 200_000)
MILLION = env_int("PGRUN_BENCH_1M_JOBS", 1_000_000)
FUTURE_JOBS = env_int("PGRUN_BENCH_FUTURE_JOBS", 1_000_000)
OTHER_JOBS = env_int("PGRUN_BENCH_OTHER_JOBS", 300_000)
ENTITY_QUEUES = env_int("PGRUN_BENCH_ENTITY_QUEUES", 50_000)
BACKLOG = env_int("PGRUN_BENCH_BACKLOG", 200_000)
FULL_PLANS = os.environ.get("PGRUN_BENCH_PLANS", "") not in ("", "0")
FAKE_WORKER = "bench-fake-worker"
BEAT_EVERY_S = 3.0          # the lease timeout is 20 s
BARRIER_TIMEOUT_S = 900.0   # a client that died must not hang the run
TARGET_MS = 2.0
SOLO_CLAIMS = env_int("PGRUN_BENCH_SOLO_CLAIMS", 200)
SOLO_MAX_S = 5.0
# --wait-quiet: before each measurement, wait until the shared machine is quiet
WAIT_QUIET_S = 0.0
QUIET_LOAD = 1.5

CLAIM = "select id, lease from pgrun.claim_jobs(%s, %s, %s::text[]) where id is not null"
COMPLETE = "select job_id, outcome from pgrun.complete_attempts(%s, %s::bigint[], %s::bigint[])"


@dataclass
class Measurement:
    scenario: str
    batch: int
    clients: int
    jobs: int
    seconds: float
    jobs_per_s: float
    queued_at_start: int
    claims: int = 0
    short_claims: int = 0          # came back with fewer than B jobs (empty included)
    claim_ms: dict = field(default_factory=dict)     # p50/p95/p99/max/mean, client wall time
    complete_ms: dict = field(default_factory=dict)
    busy_outcomes: int = 0         # completions answered 'busy', sent again
    lost_outcomes: int = 0         # completions answered 'lost' (must be 0)
    server: dict = field(default_factory=dict)       # explain of one claim_jobs call
    io: dict = field(default_factory=dict)           # cluster-wide counters over the run (all databases)
    box: dict = field(default_factory=dict)          # what else ran meanwhile (shared machine)


# -- clients -------------------------------------------------------------------


class Beater:
    """Keeps a worker's lease alive from its own connection, like the runner."""

    def __init__(self, dsn: str, worker_id: str) -> None:
        self.dsn, self.worker_id = dsn, worker_id
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                while not self.done.wait(BEAT_EVERY_S):
                    conn.execute("select * from pgrun.heartbeat(%s)", (self.worker_id,)).fetchall()
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def stop(self) -> None:
        self.done.set()
        self.thread.join()
        if self.error:
            raise RuntimeError(f"heartbeat of {self.worker_id} failed: {self.error}")


def client(dsn: str, batch: int, drain: bool, seconds: float,
           start: mp.Barrier, stop: mp.Value, results: mp.Queue) -> None:
    """Runs rounds until told to stop: each round starts and ends on `start`.
    drain: stop the round at the first empty claim; otherwise at the deadline
    (or an empty claim, when the claimable jobs ran out). An attempt whose
    completion comes back 'busy' (a row another transaction locks) is sent
    again with the next completion, as the runner does, and before the round ends."""
    worker_id = f"bench-worker-{os.getpid()}"
    stats = {"jobs": 0, "claims": 0, "short": 0, "busy": 0, "lost": 0}
    claim_s: list[float] = []
    complete_s: list[float] = []
    tasks = [TASK]
    pending: dict[int, int] = {}  # busy attempts to send again: id -> lease
    clock = time.perf_counter

    def complete(conn: psycopg.Connection, attempts: dict[int, int]) -> None:
        t0 = clock()
        outcomes = conn.execute(COMPLETE, (worker_id, list(attempts), list(attempts.values())),
                                prepare=True).fetchall()
        complete_s.append(clock() - t0)
        pending.clear()
        for job_id, outcome in outcomes:
            if outcome == "completed":
                stats["jobs"] += 1
            elif outcome == "busy":
                stats["busy"] += 1
                pending[job_id] = attempts[job_id]
            else:
                stats["lost"] += 1

    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("select pgrun.register_worker(%s)", (worker_id,))
            beater = Beater(dsn, worker_id)
            while True:
                start.wait(BARRIER_TIMEOUT_S)
                if stop.value:
                    break
                deadline = time.monotonic() + seconds
                while drain or time.monotonic() < deadline:
                    t0 = clock()
                    rows = conn.execute(CLAIM, (worker_id, batch, tasks), prepare=True).fetchall()
                    claim_s.append(clock() - t0)
                    stats["claims"] += 1
                    if len(rows) < batch:
                        stats["short"] += 1
                    if not rows:
                        break
                    complete(conn, {**pending, **dict(rows)})
                for _ in range(1000):
                    if not pending:
                        break
                    time.sleep(0.001)
                    complete(conn, dict(pending))
                start.wait(BARRIER_TIMEOUT_S)
            beater.stop()
            conn.execute("select pgrun.unregister_worker(%s)", (worker_id,))
    except BaseException:
        start.abort()
        raise
    results.put((stats, claim_s, complete_s))


def percentiles(samples: list[float]) -> dict:
    if not samples:
        return {}
    ms = sorted(s * 1000 for s in samples)

    def pick(p: float) -> float:
        return round(ms[min(len(ms) - 1, int(p * len(ms)))], 3)

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "max": round(ms[-1], 3),
            "mean": round(statistics.fmean(ms), 3), "n": len(ms)}


class BoxSampler:
    """Samples, once a second, the load average and the sessions of other
    databases that are running a statement: on a shared machine, figures mean
    little without them."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.samples: list[tuple[float, int]] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while True:
                self.samples.append((os.getloadavg()[0], other_active(conn)))
                if self.done.wait(1.0):
                    break

    def stop(self) -> dict:
        self.done.set()
        self.thread.join()
        loads = [x for x, _ in self.samples]
        others = [n for _, n in self.samples]
        return {"load1_max": round(max(loads), 2), "load1_mean": round(statistics.fmean(loads), 2),
                "other_db_active_max": max(others),
                "other_db_active_mean": round(statistics.fmean(others), 2)}


def other_active(conn: psycopg.Connection) -> int:
    return conn.execute("select count(*) from pg_stat_activity where backend_type = 'client backend'"
                        " and state <> 'idle' and datname is distinct from current_database()"
                        " and pid <> pg_backend_pid()").fetchone()[0]


def wait_quiet(dsn: str, limit_s: float) -> None:
    """Waits (at most limit_s) until no other database runs a statement and
    the load average has settled: the machine is shared."""
    if limit_s <= 0:
        return
    deadline = time.monotonic() + limit_s
    quiet_since = None
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            if other_active(conn) == 0 and os.getloadavg()[0] < QUIET_LOAD:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= 3:
                    return
            else:
                quiet_since = None
            time.sleep(0.5)
    print(json.dumps({"warning": f"the machine was not quiet after {limit_s:.0f} s; measuring anyway"}),
          flush=True)


def measure(dsn: str, scenario: str, batch: int, clients: int, seconds: float, drain: bool,
            refill=None, queued=None) -> Measurement:
    """Runs `clients` processes; with `refill`, round after round (refill() before
    each, untimed) until `seconds` of rounds have been timed; else one round."""
    wait_quiet(dsn, WAIT_QUIET_S)
    sampler = BoxSampler(dsn)
    ctx = mp.get_context("fork")
    start = ctx.Barrier(clients + 1)
    stop = ctx.Value("b", 0)
    results = ctx.Queue()
    procs = [ctx.Process(target=client, args=(dsn, batch, drain, seconds, start, stop, results))
             for _ in range(clients)]
    for p in procs:
        p.start()
    elapsed = 0.0
    queued_at_start = None
    try:
        while True:
            count = refill() if refill else queued()
            if queued_at_start is None:
                queued_at_start = count
            start.wait(BARRIER_TIMEOUT_S)
            t0 = time.perf_counter()
            start.wait(BARRIER_TIMEOUT_S)
            elapsed += time.perf_counter() - t0
            if not refill or elapsed >= seconds:
                break
        stop.value = 1
        start.wait(BARRIER_TIMEOUT_S)
    except threading.BrokenBarrierError:
        for p in procs:
            p.join(5)
        raise SystemExit("a client process failed (see its traceback above)") from None
    parts = [results.get() for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode:
            raise SystemExit(f"a client process failed (exit code {p.exitcode})")

    def total(key: str) -> int:
        return sum(stats[key] for stats, _, _ in parts)

    jobs = total("jobs")
    box = sampler.stop()
    return Measurement(
        scenario, batch, clients, jobs, round(elapsed, 3),
        round(jobs / elapsed, 1) if elapsed else 0.0, queued_at_start,
        claims=total("claims"), short_claims=total("short"), busy_outcomes=total("busy"),
        lost_outcomes=total("lost"),
        claim_ms=percentiles([s for _, claims, _ in parts for s in claims]),
        complete_ms=percentiles([s for _, _, completes in parts for s in completes]), box=box)


# -- set-ups ---------------------------------------------------------------------


def reset(conn: psycopg.Connection) -> None:
    conn.execute("truncate pgrun._private_jobs, pgrun._private_job_queues, pgrun._private_queue_heads,"
                 " pgrun._private_workers")


def vacuum(conn: psycopg.Connection) -> None:
    """Clean tables and no checkpoint pending from the set-up: every measurement
    starts from the same state (autovacuum may be off on the server)."""
    for table in ("_private_jobs", "_private_job_queues", "_private_queue_heads", "_private_workers"):
        conn.execute(f"vacuum analyze pgrun.{table}")
    conn.execute("checkpoint")


def add_jobs(conn: psycopg.Connection, count: int, *, task: str = TASK, queue_prefix: str | None = None,
             queues: int | None = None, run_at: str = "null", priority: int | None = None) -> None:
    """count jobs through pgrun.add_jobs, specs made server-side, CHUNK per call.
    With queue_prefix, job n goes to queue <prefix>-<1 + n % queues>."""
    queue = "%(prefix)s || (1 + (g - 1) %% %(queues)s::int)" if queue_prefix else "null"
    for done in range(0, count, CHUNK):
        conn.execute(
            "select count(*) from pgrun.add_jobs(array("
            f" select row(%(task)s, null, {queue}, {run_at}, null, null, %(priority)s::smallint, null, null,"
            " null)"
            "::pgrun.job_spec"
            " from generate_series(%(first)s::int, %(last)s::int) g order by g))",
            {"task": task, "prefix": f"{queue_prefix}-", "queues": queues or 1, "priority": priority,
             "first": done + 1, "last": min(done + CHUNK, count)})


def count_claimable(dsn: str) -> int:
    """Available jobs of the clients' task outside named queues."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute("select count(*) from pgrun._private_jobs where task_identifier = %s"
                            " and state = 'available' and queue_name is null", (TASK,)).fetchone()[0]


def top_up(conn: psycopg.Connection, dsn: str, wanted: int) -> None:
    missing = wanted - count_claimable(dsn)
    if missing > 0:
        add_jobs(conn, missing, priority=0)


def state_counts(conn: psycopg.Connection) -> dict:
    return dict(conn.execute("select state, count(*) from pgrun._private_jobs"
                             " group by 1 order by 1").fetchall())


def timed_setup(name: str, conn: psycopg.Connection, fill) -> None:
    t0 = time.perf_counter()
    reset(conn)
    fill()
    vacuum(conn)
    def count(table: str) -> int:
        return conn.execute(f"select count(*) from pgrun.{table}").fetchone()[0]

    print(json.dumps({"setup": name, "states": state_counts(conn),
                      "queues": count("_private_job_queues"), "queue_heads": count("_private_queue_heads"),
                      "fill_and_vacuum_seconds": round(time.perf_counter() - t0, 1)}), flush=True)


def server_counters(dsn: str) -> dict:
    """Cumulative server counters that explain a slow run: WAL (full-page
    images follow every checkpoint), checkpoints, backends evicting dirty
    buffers themselves, reads that missed shared_buffers."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "select w.wal_records, w.wal_fpi, w.wal_bytes, w.wal_buffers_full,"
            " b.checkpoints_timed + b.checkpoints_req, b.buffers_backend, d.blks_read, d.blks_hit"
            " from pg_stat_wal as w, pg_stat_bgwriter as b, pg_stat_database as d"
            " where d.datname = current_database()").fetchone()
    return dict(zip(["wal_records", "wal_fpi", "wal_bytes", "wal_buffers_full", "checkpoints",
                     "buffers_backend", "blks_read", "blks_hit"], (int(x) for x in row), strict=True))


def counters_delta(before: dict, after: dict, jobs: int) -> dict:
    delta = {k: after[k] - before[k] for k in before}
    per_job = max(jobs, 1)
    return {"checkpoints": delta["checkpoints"], "wal_buffers_full": delta["wal_buffers_full"],
            "buffers_backend": delta["buffers_backend"],
            "wal_bytes_per_job": round(delta["wal_bytes"] / per_job),
            "wal_fpi_per_job": round(delta["wal_fpi"] / per_job, 2),
            "blks_read_per_job": round(delta["blks_read"] / per_job, 2),
            "blks_hit_per_job": round(delta["blks_hit"] / per_job, 1)}


# -- plans -----------------------------------------------------------------------


def explain_claim(dsn: str, batch: int) -> tuple[dict, str, list[str]]:
    """One claim_jobs call, as a warm client session makes it, rolled back:
    EXPLAIN (ANALYZE, BUFFERS) of the call (time, buffers of everything it
    ran), then the same call again under auto_explain for its nested
    statements. Returns a summary, the top plan and the nested plans."""
    nested: list[str] = []
    worker = f"bench-explainer-{os.getpid()}-{time.monotonic_ns()}"
    args = (worker, batch, [TASK])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("select pgrun.register_worker(%s)", (worker,))
        conn.add_notice_handler(lambda diag: nested.append(diag.message_primary or ""))
        conn.execute("load 'auto_explain'")
        for setting, value in [("log_min_duration", "-1"), ("log_analyze", "on"), ("log_buffers", "on"),
                               ("log_timing", "on"), ("log_nested_statements", "on"),
                               ("log_level", "notice")]:
            conn.execute(f"set auto_explain.{setting} = {value}")
        # Warm the plan caches as a running worker would have (plpgsql may
        # switch to generic plans after five calls), then explain.
        for _ in range(7):
            with conn.transaction(force_rollback=True):
                conn.execute(CLAIM, args).fetchall()
        with conn.transaction(force_rollback=True):
            top = "\n".join(r[0] for r in conn.execute(
                "explain (analyze, buffers) " + CLAIM, args).fetchall())
        conn.execute("set auto_explain.log_min_duration = 0")
        with conn.transaction(force_rollback=True):
            conn.execute(CLAIM, args).fetchall()
        conn.execute("set auto_explain.log_min_duration = -1")
    execution = re.search(r"Execution Time: ([\d.]+) ms", top)
    buffers = re.search(r"Buffers: ([^\n]+)", top)
    claimed = re.search(r"Function Scan[^\n]*actual [^)]*rows=(\d+)", top)
    summary = {
        "execution_ms": float(execution.group(1)) if execution else None,
        "buffers": buffers.group(1).strip() if buffers else None,
        "buffers_total": sum(int(n) for n in re.findall(r"=(\d+)", buffers.group(1))) if buffers else None,
        "rows": int(claimed.group(1)) if claimed else None,
        # the slowest statements inside the call: (ms, buffers, first words)
        "nested": sorted((nested_summary(p) for p in nested if "Query Text:" in p),
                         key=lambda s: -s[0])[:4],
    }
    return summary, top, nested


def solo_claims(dsn: str, batch: int, count: int) -> dict:
    """Claim latency without contention: one session claims and completes
    `count` times in a row (at most SOLO_MAX_S; the plan caches warmed first,
    as in explain_claim)."""
    worker = f"bench-solo-{os.getpid()}-{time.monotonic_ns()}"
    times: list[float] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("select pgrun.register_worker(%s)", (worker,))
        deadline = time.monotonic() + SOLO_MAX_S
        beat = time.monotonic() + BEAT_EVERY_S
        for n in range(count + 7):
            if time.monotonic() > beat:
                conn.execute("select * from pgrun.heartbeat(%s)", (worker,)).fetchall()
                beat = time.monotonic() + BEAT_EVERY_S
            t0 = time.perf_counter()
            rows = conn.execute(CLAIM, (worker, batch, [TASK]), prepare=True).fetchall()
            if n >= 7:
                times.append(time.perf_counter() - t0)
            if not rows or time.monotonic() > deadline:
                break
            conn.execute(COMPLETE, (worker, [r[0] for r in rows], [r[1] for r in rows]), prepare=True)
        conn.execute("select pgrun.unregister_worker(%s)", (worker,))
    return percentiles(times)


def nested_summary(plan: str) -> list:
    duration = re.search(r"duration: ([\d.]+) ms", plan)
    buffers = re.search(r"Buffers: ([^\n]+)", plan)
    text = re.search(r"Query Text: (.*?)\n\S", plan, re.S)
    words = " ".join((text.group(1) if text else "?").split())[:90]
    return [float(duration.group(1)) if duration else 0.0, buffers.group(1).strip() if buffers else "", words]


def show_plan(dsn: str, name: str, batch: int, when: str, full: bool = False, solo: int = 0) -> dict:
    summary, top, nested = explain_claim(dsn, batch)
    if solo:
        summary["solo_claim_ms"] = solo_claims(dsn, batch, solo)
    print(json.dumps({"plan": name, "batch": batch, "when": when, **summary}), flush=True)
    if full or FULL_PLANS or (summary["execution_ms"] or 0) >= TARGET_MS:
        print(top, flush=True)
        for plan in nested:
            print(plan, flush=True)
    return summary


# -- machine -----------------------------------------------------------------------


def machine(conn: psycopg.Connection) -> dict:
    mem_kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    settings = dict(conn.execute(
        "select name, current_setting(name) from pg_settings where name = any(%s)",
        (["shared_buffers", "synchronous_commit", "fsync", "work_mem", "max_wal_size",
          "autovacuum", "jit", "random_page_cost", "effective_cache_size"],)).fetchall())
    try:
        free = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.splitlines()[1]
    except (OSError, IndexError):
        free = None
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "free_h": " ".join(free.split()) if free else None,
        "cpu": platform.processor() or platform.machine(),
        "postgres": conn.execute("select version()").fetchone()[0],
        "settings": settings,
        "python": platform.python_version(),
        "psycopg": psycopg.__version__,
    }


# -- scenarios ---------------------------------------------------------------------


def run_measured(conn, dsn, args, batches, record, name: str, plan_name: str, before_each=None,
                 full_plan: bool = False) -> None:
    """Per batch: top up (before_each), VACUUM, explain one claim, measure for
    --seconds, explain one claim again on the state the clients left."""
    for batch in batches:
        if before_each:
            before_each()
        vacuum(conn)
        before = show_plan(dsn, plan_name, batch, "before", full=full_plan, solo=SOLO_CLAIMS)
        counters = server_counters(dsn)
        m = measure(dsn, name, batch, args.clients, args.seconds, drain=False,
                    queued=lambda: count_claimable(dsn))
        m.io = counters_delta(counters, server_counters(dsn), m.jobs)
        after = show_plan(dsn, plan_name, batch, "after")
        m.server = {"before": {k: before[k] for k in ("execution_ms", "buffers_total", "rows")},
                    "after": {k: after[k] for k in ("execution_ms", "buffers_total", "rows")},
                    "solo_claim_ms": before["solo_claim_ms"]}
        record(m)


def run_1k(conn, dsn, args, batches, record) -> None:
    def refill() -> int:
        vacuum(conn)
        add_jobs(conn, 1000)
        return 1000

    for batch in batches:
        reset(conn)
        add_jobs(conn, 1000)
        vacuum(conn)
        before = show_plan(dsn, "1k", batch, "before", solo=min(SOLO_CLAIMS, 900 // batch))
        reset(conn)
        counters = server_counters(dsn)
        m = measure(dsn, "1k", batch, args.clients, args.seconds, drain=True, refill=refill)
        m.io = counters_delta(counters, server_counters(dsn), m.jobs)  # refills included
        m.server = {"before": {k: before[k] for k in ("execution_ms", "buffers_total", "rows")},
                    "solo_claim_ms": before["solo_claim_ms"]}
        record(m)


def run_1m(conn, dsn, args, batches, record) -> None:
    timed_setup("1m", conn, lambda: add_jobs(conn, MILLION))
    name = "1M" if MILLION == 1_000_000 else f"{MILLION:,}"
    run_measured(conn, dsn, args, batches, record, name, "1m")


def run_stuck(conn, dsn, args, batches, record) -> None:
    beater = None

    def fill() -> None:
        nonlocal beater
        add_jobs(conn, STUCK_QUEUES * STUCK_JOBS_PER_QUEUE, queue_prefix="stuck", queues=STUCK_QUEUES)
        # The fake worker claims each queue's first job (max_running 1: one per
        # queue) and never finishes it; it beats so that nobody reaps it.
        conn.execute("select pgrun.register_worker(%s)", (FAKE_WORKER,))
        held = conn.execute(CLAIM, (FAKE_WORKER, STUCK_QUEUES, [TASK])).fetchall()
        assert len(held) == STUCK_QUEUES, len(held)
        beater = Beater(dsn, FAKE_WORKER)
        add_jobs(conn, STUCK_FREE_JOBS)

    timed_setup("stuck", conn, fill)
    try:
        running = conn.execute("select count(distinct queue_name) from pgrun._private_jobs"
                               " where state = 'running' and locked_by = %s", (FAKE_WORKER,)).fetchone()[0]
        assert running == STUCK_QUEUES, running
        run_measured(conn, dsn, args, batches, record, "stuck (free jobs)", "stuck", full_plan=True)
        # Ten free named queues beside the stuck ones: now the claim has listed
        # queues to visit, and it visits those only.
        add_jobs(conn, 1000, queue_prefix="free", queues=10)
        vacuum(conn)
        show_plan(dsn, "stuck + 10 free named queues", max(batches), "before", full=True)
        still_stuck = conn.execute("select count(*) from pgrun._private_jobs where queue_name like 'stuck-%'"
                                   " and state = 'available'").fetchone()[0]
        assert still_stuck == STUCK_QUEUES * (STUCK_JOBS_PER_QUEUE - 1), still_stuck
    finally:
        if beater:
            beater.stop()


def run_future(conn, dsn, args, batches, record) -> None:
    def fill() -> None:
        add_jobs(conn, FUTURE_JOBS, run_at="now() + interval '1 day'", priority=-10)
        add_jobs(conn, BACKLOG, priority=0)

    timed_setup("future", conn, fill)
    run_measured(conn, dsn, args, batches, record, "future", "future",
                 before_each=lambda: top_up(conn, dsn, BACKLOG))


def run_other_task(conn, dsn, args, batches, record) -> None:
    def fill() -> None:
        add_jobs(conn, OTHER_JOBS, task=OTHER_TASK)
        add_jobs(conn, BACKLOG, priority=0)

    timed_setup("other-task", conn, fill)
    run_measured(conn, dsn, args, batches, record, "other-task", "other-task",
                 before_each=lambda: top_up(conn, dsn, BACKLOG))


def run_entity_queues(conn, dsn, args, batches, record) -> None:
    def fill() -> None:
        add_jobs(conn, ENTITY_QUEUES, queue_prefix="entity", queues=ENTITY_QUEUES,
                 run_at="now() + interval '1 day'")
        add_jobs(conn, BACKLOG, priority=0)

    timed_setup("entity-queues", conn, fill)
    run_measured(conn, dsn, args, batches, record, "entity-queues", "entity-queues",
                 before_each=lambda: top_up(conn, dsn, BACKLOG))


def run_churn(conn, dsn, args, batches, record) -> None:
    """Not a default scenario: how a claim's cost grows with the jobs claimed
    and completed since the last VACUUM. Each claimed job leaves a dead entry
    at the head of jobs_available (the claim order is the index order, and no
    insert ever lands there to clean it), which every later claim walks over.
    One session churns through MILLION jobs, 1,000 per claim, and explains a
    claim (rolled back) at each level; then VACUUM and once more."""
    timed_setup("churn", conn, lambda: add_jobs(conn, MILLION))
    worker = f"bench-churner-{os.getpid()}"
    conn.execute("select pgrun.register_worker(%s)", (worker,))
    churned, beat = 0, time.monotonic()

    def explain_all(label) -> None:
        for batch in batches:
            summary, _, _ = explain_claim(dsn, batch)
            print(json.dumps({"churn": label, "batch": batch, "execution_ms": summary["execution_ms"],
                              "buffers_total": summary["buffers_total"], "rows": summary["rows"]}),
                  flush=True)

    for level in [n for n in CHURN_LEVELS if n <= MILLION - 1000]:
        while churned < level:
            rows = conn.execute(CLAIM, (worker, 1000, [TASK])).fetchall()
            conn.execute(COMPLETE, (worker, [r[0] for r in rows], [r[1] for r in rows])).fetchall()
            churned += len(rows)
            if time.monotonic() - beat > BEAT_EVERY_S:
                conn.execute("select * from pgrun.heartbeat(%s)", (worker,)).fetchall()
                beat = time.monotonic()
        explain_all(churned)
    conn.execute("vacuum pgrun._private_jobs")
    explain_all("after vacuum")


SCENARIOS = {"1k": run_1k, "1m": run_1m, "stuck": run_stuck, "future": run_future,
             "other-task": run_other_task, "entity-queues": run_entity_queues, "churn": run_churn}
DEFAULT_SCENARIOS = ["1k", "1m", "stuck", "future", "other-task", "entity-queues"]
CHURN_LEVELS = [0, 10_000, 50_000, 100_000, 200_000, 400_000, 800_000]


# -- main --------------------------------------------------------------------------


def table(rows: list[Measurement]) -> str:
    """One row per measurement. 'vs 1k': jobs/s and client p50 against the 1k
    scenario at the same batch. 'claim < 2 ms': the claim's own cost, the
    server's execution time of one claim_jobs call (EXPLAIN ANALYZE, before
    and after the run) and the p50 of claims one session makes alone (commit
    included), are under 2 ms. Client percentiles under 4 clients include
    waiting for a CPU on a small machine: compare them with the 1k row."""
    base = {m.batch: m for m in rows if m.scenario == "1k"}
    lines = ["| scenario | batch | queued at start | jobs | jobs/s | jobs/s vs 1k |"
             " claim p50 ms | p95 | p99 | max | p50 vs 1k | busy/lost |"
             " server ms before/after | buffers before/after | solo p50/p99 ms | claim < 2 ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for m in rows:
        ref = base.get(m.batch)
        c, solo = m.claim_ms, m.server.get("solo_claim_ms") or {}
        before, after = m.server.get("before", {}), m.server.get("after", {})
        ratio = f"{m.jobs_per_s / ref.jobs_per_s:.2f}" if ref and ref.jobs_per_s else ""
        p50_ratio = f"{c['p50'] / ref.claim_ms['p50']:.2f}" if ref and c and ref.claim_ms else ""
        server = [x for x in (before.get("execution_ms"), after.get("execution_ms")) if x is not None]
        ok = bool(server) and max(server) < TARGET_MS and solo.get("p50", TARGET_MS) < TARGET_MS
        lines.append(
            f"| {m.scenario} | {m.batch} | {m.queued_at_start:,} | {m.jobs:,} | {m.jobs_per_s:,.0f} |"
            f" {ratio} | {c.get('p50', '')} | {c.get('p95', '')} | {c.get('p99', '')} | {c.get('max', '')} |"
            f" {p50_ratio} |"
            f" {m.busy_outcomes}/{m.lost_outcomes} |"
            f" {before.get('execution_ms', '')} / {after.get('execution_ms', '-')} |"
            f" {before.get('buffers_total', '')} / {after.get('buffers_total', '-')} |"
            f" {solo.get('p50', '')} / {solo.get('p99', '')} | {'yes' if ok else 'NO'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connection", default=os.environ.get("DATABASE_URL", "dbname=postgres"),
                        help="conninfo of any database on the server (default: dbname=postgres)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batches", default="1,10")
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("PGRUN_BENCH_SECONDS", 10)))
    parser.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS),
                        help=f"comma-separated, from {', '.join(SCENARIOS)} (default: all but churn)")
    parser.add_argument("--wait-quiet", type=float,
                        default=float(os.environ.get("PGRUN_BENCH_WAIT_QUIET", 0)),
                        metavar="SECONDS", help="before each measurement, wait up to SECONDS until no other"
                        " database runs a statement and the load average is under 1.5 (default 0: no wait)")
    args = parser.parse_args()
    global WAIT_QUIET_S
    WAIT_QUIET_S = args.wait_quiet
    batches = [int(b) for b in args.batches.split(",")]
    scenarios = args.scenarios.split(",")
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)} (known: {', '.join(SCENARIOS)})")

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
            print(json.dumps({"sizes": {"1m": MILLION, "stuck_free": STUCK_FREE_JOBS, "future": FUTURE_JOBS,
                                        "other_task": OTHER_JOBS, "entity_queues": ENTITY_QUEUES,
                                        "backlog": BACKLOG, "seconds": args.seconds,
                                        "clients": args.clients, "batches": batches}}), flush=True)
            for name in SCENARIOS:
                if name in scenarios:
                    SCENARIOS[name](conn, dsn, args, batches, record)
    finally:
        with psycopg.connect(args.connection, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{dbname}" with (force)')
    if rows:
        print()
        print(table(rows))


if __name__ == "__main__":
    sys.exit(main())
