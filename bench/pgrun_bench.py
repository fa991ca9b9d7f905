"""pgrun on the workloads of the side-by-side benchmark kit (see bench/README in docs/benchmarks-runner.md).

    DATABASE_URL=postgresql://.../empty_db .venv/bin/python bench/pgrun_bench.py MODE

MODE                 workload  what is timed
enqueue-single       W1a       N sequential single-job enqueues, one transaction each, one connection
enqueue-bulk         W1b       N jobs in calls of BATCH specs (BATCH=N: one call)
drain                W2        N queued no-op jobs, run_once from start to return
latency              W3        idle worker; LAT_N jobs enqueued every LAT_GAP_MS on another connection
idle                 W4        an idle worker kept IDLE_SECONDS (wrap with the kit's lib/measure_idle.sh)
rss-idle             RSS       resident memory of an idle worker after SETTLE seconds
scale                W5        W5_TOTAL (1,000,000) queued jobs; rate of the first N completed, then stop
stuck                W6        W6_QUEUES x W6_PER_QUEUE jobs behind locked named queues + W6_FREE free
                               jobs; rate at which the free ones run: start -> last free job ran
                               (the worker is stopped there; capped at W6_MAX_SECONDS)

Environment: DATABASE_URL (an empty database; pgrun is installed by this script), N (20000),
CONCURRENCY (10), BATCH (1000), LAT_N (500), LAT_GAP_MS (10), IDLE_SECONDS (60), SETTLE (5),
PGRUN_CONFIG = default (library defaults, concurrency CONCURRENCY) | tuned (see CONFIGS),
PGRUN_VARIANT for W1a (sql | utils | utils-async) and W1b (sql | utils), PGRUN_RETENTION for W2
(an interval such as "1 day": completed jobs are kept that long instead of deleted).

Prints one JSON line per measurement with the kit's fields (system, version, workload, variant,
n, value, unit; W2/W5/W6 add seconds, value_excl_startup, startup_ms; W3 p50/p95/p99_ms, received)
plus resources (rss_*_mb; cpu_s_per_10k of this process; db_cpu_s_per_10k of its PostgreSQL backends).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg

import pgrun

URL = os.environ.get("DATABASE_URL") or sys.exit("DATABASE_URL required")
N = int(os.environ.get("N", "20000"))
CONC = int(os.environ.get("CONCURRENCY", "10"))
BATCH = int(os.environ.get("BATCH", "1000"))
LAT_N = int(os.environ.get("LAT_N", "500"))
LAT_GAP_MS = float(os.environ.get("LAT_GAP_MS", "10"))
IDLE_SECONDS = float(os.environ.get("IDLE_SECONDS", "60"))
SETTLE = float(os.environ.get("SETTLE", "5"))
CONFIG = os.environ.get("PGRUN_CONFIG", "default")
RETENTION = os.environ.get("PGRUN_RETENTION")  # W2: keep completed jobs this long
VARIANT = os.environ.get("PGRUN_VARIANT", "sql")
W5_TOTAL = int(os.environ.get("W5_TOTAL", "1000000"))
W6_QUEUES = int(os.environ.get("W6_QUEUES", "100"))
W6_PER_QUEUE = int(os.environ.get("W6_PER_QUEUE", "1000"))
W6_FREE = int(os.environ.get("W6_FREE", "50000"))
W6_MAX_SECONDS = float(os.environ.get("W6_MAX_SECONDS", "60"))
FAKE_WORKER = "bench-fake-worker-locking-queues"

# Worker options per PGRUN_CONFIG. "default" passes nothing but the concurrency: what a user
# gets out of the box. "tuned" is the counterpart of Graphile's "batched" config (local queue
# of 500, completions batched): a deep prefetch, so claims are rare and large.
CONFIGS = {
    "default": {},
    "tuned": {"prefetch": 500},
}
if CONFIG not in CONFIGS:
    sys.exit(f"unknown PGRUN_CONFIG {CONFIG!r}; known: {', '.join(CONFIGS)}")


def worker_options() -> dict:
    return {"connection": URL, "concurrency": CONC, **CONFIGS[CONFIG]}


def config_label() -> str:
    extra = " ".join(f"{k}={v}" for k, v in CONFIGS[CONFIG].items())
    if RETENTION:
        extra = (extra + f" retention={RETENTION.replace(' ', '')}").strip()
    return f"{CONFIG} concurrency={CONC}" + (f" {extra}" if extra else "")


def _version() -> str:
    """pgrun's version, the commit, and "-dirty" when runner/ or sql/ has uncommitted changes."""
    here = str(Path(__file__).resolve().parent.parent)

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", "-C", here, *args], capture_output=True, text=True,
                                  timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    sha = git("rev-parse", "--short", "HEAD")
    if not sha:
        return pgrun.__version__
    dirty = "-dirty" if git("status", "--porcelain", "--", "runner", "sql") else ""
    return f"{pgrun.__version__}+{sha}{dirty}"


VERSION = _version()
now = time.perf_counter


def out(**fields) -> None:
    print(json.dumps({"system": "pgrun", "version": VERSION, **fields}), flush=True)


def pct(values: list[float]) -> dict:
    s = sorted(values)
    if not s:
        return dict(p50_ms=None, p95_ms=None, p99_ms=None, max_ms=None, min_ms=None)

    def q(p: float) -> float:
        return s[min(len(s) - 1, int(p * len(s)))]
    return dict(p50_ms=q(0.5), p95_ms=q(0.95), p99_ms=q(0.99), max_ms=s[-1], min_ms=s[0])


# ---------------------------------------------------------------- resources (no psutil)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def cpu_s() -> float:
    """User + system CPU of this process (every thread)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu_s(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


class BackendCpu(threading.Thread):
    """CPU of the PostgreSQL backends serving this database (the worker's connections), sampled
    from /proc every 50 ms: the machine is shared, so its total CPU says little. Needs the
    server on this host and read access to its processes' /proc/PID/stat (root, or postgres)."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="backend-cpu")
        params = psycopg.conninfo.conninfo_to_dict(URL)
        self.dbname = params.get("dbname") or os.environ.get("PGDATABASE")
        self.admin = psycopg.conninfo.make_conninfo(URL, dbname="postgres")
        self.seen: dict[int, tuple[float, float]] = {}   # pid -> (cpu at first sight, last cpu)
        self.halt = threading.Event()
        self.ok = True

    def sample(self, conn) -> None:
        pids = [r[0] for r in conn.execute(
            "select pid from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
            (self.dbname,))]
        for pid in pids:
            cpu = _proc_cpu_s(pid)
            if cpu is None:
                continue
            first = self.seen.get(pid, (cpu, cpu))[0]
            self.seen[pid] = (first, cpu)

    def run(self) -> None:
        try:
            with psycopg.connect(self.admin, autocommit=True) as conn:
                self.sample(conn)
                # Backends alive at the start (ours, about to close) count from here.
                while not self.halt.wait(0.05):
                    self.sample(conn)
        except Exception:
            self.ok = False

    def total(self) -> float | None:
        self.halt.set()
        self.join(5)
        if not self.ok or not self.seen:
            return None
        return sum(last - first for first, last in self.seen.values())


class Usage:
    """Resources used between start() and stop(), per 10,000 jobs: CPU of this process (the
    worker, every thread) and of the database backends serving it; resident memory."""

    def start(self) -> Usage:
        gc.collect()
        self.rss0 = rss_mb()
        self.backends = BackendCpu()
        self.backends.start()
        self.cpu0 = cpu_s()
        return self

    def stop(self, jobs: int) -> dict:
        cpu = cpu_s() - self.cpu0
        db_cpu = self.backends.total()
        per = 10_000 / jobs if jobs else float("nan")
        return dict(rss_start_mb=round(self.rss0, 1), rss_end_mb=round(rss_mb(), 1),
                    rss_peak_mb=round(peak_rss_mb(), 1), cpu_s=round(cpu, 3),
                    cpu_s_per_10k=round(cpu * per, 3),
                    db_cpu_s_per_10k=None if db_cpu is None else round(db_cpu * per, 3))


# ---------------------------------------------------------------- database set-up

ADD_JOBS_JSON = ("select 1 from pgrun.add_jobs(array(select json_populate_recordset("
                 "null::pgrun.job_spec, %s::json)))")


def install() -> None:
    with psycopg.connect(URL, autocommit=True) as conn:
        pgrun.migrate(conn)


def specs_json(start: int, stop: int, identifier: str = "noop") -> str:
    return json.dumps([{"identifier": identifier, "payload": {"i": i}} for i in range(start, stop)])


def generate(conn, count: int, queue_expr: str = "null", chunk: int = 100_000) -> None:
    """`count` no-op jobs made server side by add_jobs, in calls of `chunk`."""
    for s in range(0, count, chunk):
        n = min(chunk, count - s)
        conn.execute(
            "select count(*) from pgrun.add_jobs(array("
            f"select row('noop', json_build_object('i', g), {queue_expr}, null, null, null, null, null, null,"
            " null)"
            "::pgrun.job_spec from generate_series(%s::int, %s::int) as g))", (s, s + n - 1))


def maintenance(conn) -> None:
    conn.execute("checkpoint")
    conn.execute("vacuum analyze")


def count(conn, where: str = "true") -> int:
    return conn.execute(f"select count(*) from pgrun._private_jobs where {where}").fetchone()[0]


# ---------------------------------------------------------------- W1: enqueue


def enqueue_single() -> None:
    install()
    if VARIANT == "sql":
        # The counterpart of Graphile's `select graphile_worker.add_job(...)` on one pg.Client.
        with psycopg.connect(URL, autocommit=True) as conn:
            q = "select pgrun.add_job('noop', %s::json)"
            conn.execute(q, (json.dumps({"i": -1}),))
            t0 = now()
            for i in range(N):
                conn.execute(q, (json.dumps({"i": i}),))
            dt = now() - t0
        variant = "sql add_job (psycopg)"
    elif VARIANT == "utils":
        with pgrun.WorkerUtils(URL) as utils:
            utils.add_job("noop", {"i": -1})
            t0 = now()
            for i in range(N):
                utils.add_job("noop", {"i": i})
            dt = now() - t0
        variant = "WorkerUtils.add_job"
    elif VARIANT == "utils-async":
        async def go() -> float:
            async with pgrun.AsyncWorkerUtils(URL) as utils:
                await utils.add_job("noop", {"i": -1})
                t0 = now()
                for i in range(N):
                    await utils.add_job("noop", {"i": i})
                return now() - t0
        dt = asyncio.run(go())
        variant = "AsyncWorkerUtils.add_job"
    else:
        sys.exit(f"unknown PGRUN_VARIANT {VARIANT!r} for enqueue-single (sql | utils | utils-async)")
    out(workload="W1a", variant=variant, n=N, seconds=dt, value=N / dt, unit="jobs/s")


def enqueue_bulk() -> None:
    install()
    if VARIANT == "sql":
        # Graphile's perfTest insert: add_jobs(array(json_populate_recordset(...))).
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(ADD_JOBS_JSON, (specs_json(-1, 0),))
            t0 = now()
            for s in range(0, N, BATCH):
                conn.execute(ADD_JOBS_JSON, (specs_json(s, min(N, s + BATCH)),))
            dt = now() - t0
        variant = f"sql add_jobs(json_populate_recordset) batch={BATCH}"
    elif VARIANT == "utils":
        with pgrun.WorkerUtils(URL) as utils:
            utils.add_jobs([pgrun.JobSpec("noop", {"i": -1})])
            t0 = now()
            for s in range(0, N, BATCH):
                utils.add_jobs([pgrun.JobSpec("noop", {"i": i}) for i in range(s, min(N, s + BATCH))])
            dt = now() - t0
        variant = f"WorkerUtils.add_jobs batch={BATCH}"
    else:
        sys.exit(f"unknown PGRUN_VARIANT {VARIANT!r} for enqueue-bulk (sql | utils)")
    out(workload="W1b", variant=variant, n=N, seconds=dt, value=N / dt, unit="jobs/s")


# ---------------------------------------------------------------- W2: drain


class Counter:
    """The no-op task: counts runs, notes the first start and the time the n-th run ended."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.executed = 0
        self.t_first: float | None = None
        self.t_nth: float | None = None
        self.stop_after = stop_after
        self.worker: pgrun.Worker | None = None

    async def noop(self, payload, helpers) -> None:
        if self.t_first is None:
            self.t_first = now()
        self.executed += 1
        if self.executed == self.stop_after:
            # pgrun has no "stop after N jobs" option: the N-th handler asks for a graceful stop.
            self.t_nth = now()
            self.worker.request_stop()


def drain() -> None:
    install()
    with psycopg.connect(URL, autocommit=True) as conn:
        if RETENTION:
            conn.execute("select pgrun.set_retention(%s::interval, null, null)", (RETENTION,))
        conn.execute(ADD_JOBS_JSON, (specs_json(0, N),))   # one call, as Graphile's perfTest
        maintenance(conn)
        if count(conn) != N:
            sys.exit("prefill failed")
    counter = Counter()
    usage = Usage().start()
    t0 = now()
    stats = asyncio.run(pgrun.run_once_async({"noop": counter.noop}, **worker_options()))
    t_end = now()
    res = usage.stop(N)
    with psycopg.connect(URL, autocommit=True) as conn:
        remaining = count(conn, "state <> 'completed'")
        kept = count(conn, "state = 'completed'")
    out(workload="W2", variant=config_label(), n=N, executed=counter.executed, completed=stats.completed,
        remaining_rows_after=remaining, seconds=t_end - t0, startup_ms=(counter.t_first - t0) * 1000,
        value=N / (t_end - t0), value_excl_startup=N / (t_end - counter.t_first), unit="jobs/s",
        completed_jobs=f"kept {kept}" if RETENTION else "deleted", **res)
    if RETENTION and kept != N:
        sys.exit(2)
    if remaining or counter.executed != N:
        sys.exit(2)


# ---------------------------------------------------------------- W3: latency


async def latency() -> None:
    install()
    sent: dict[int, float] = {}
    acked: dict[int, float] = {}   # the enqueue call's own duration (its commit included)
    lat: list[float] = []
    pickup: list[float] = []       # from the enqueue call's return to the task's start
    warm = 0

    async def lat_task(payload, helpers) -> None:
        nonlocal warm
        t = now()
        i = payload["id"]
        if i < 0:
            warm += 1
        else:
            lat.append((t - sent[i]) * 1000)
            pickup.append(lat[-1] - acked.get(i, 0.0))

    worker = await pgrun.run_async({"lat": lat_task}, **worker_options())
    async with await psycopg.AsyncConnection.connect(URL, autocommit=True) as conn:
        q = "select pgrun.add_job('lat', json_build_object('id', %s::int))"
        for i in range(1, 21):
            await conn.execute(q, (-i,))
        while warm < 20:
            await asyncio.sleep(0.02)
        await asyncio.sleep(2.5)  # idle: past the poll interval
        t0 = now()
        for i in range(LAT_N):
            delay = t0 + i * LAT_GAP_MS / 1000 - now()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[i] = now()
            await conn.execute(q, (i,))
            acked[i] = (now() - sent[i]) * 1000
        deadline = now() + 30
        while len(lat) < LAT_N and now() < deadline:
            await asyncio.sleep(0.02)
    await worker.stop()
    p, k, e = pct(lat), pct(pickup), pct(list(acked.values()))
    # pickup_*: latency minus the enqueue call (its commit); enqueue_*: the enqueue call alone.
    # Commit stalls of the server show in enqueue_* and in the kit's p*_ms alike.
    out(workload="W3", variant=config_label(), n=LAT_N, received=len(lat), **p, value=p["p50_ms"],
        unit="ms (p50)", pickup_p50_ms=k["p50_ms"], pickup_p99_ms=k["p99_ms"],
        enqueue_p50_ms=e["p50_ms"], enqueue_p99_ms=e["p99_ms"])


# ---------------------------------------------------------------- W4: idle, RSS


async def idle() -> None:
    install()
    worker = await pgrun.run_async({"noop": Counter().noop}, **worker_options())
    print("READY", file=sys.stderr, flush=True)
    await asyncio.sleep(IDLE_SECONDS)
    await worker.stop()


async def rss_idle() -> None:
    install()
    gc.collect()
    before = rss_mb()
    worker = await pgrun.run_async({"noop": Counter().noop}, **worker_options())
    await asyncio.sleep(SETTLE)
    gc.collect()
    rss = rss_mb()
    await worker.stop()
    out(workload="RSS", variant=f"idle worker {config_label()}", n=1, value=round(rss, 1), unit="MB",
        rss_before_worker_mb=round(before, 1), settle_s=SETTLE)


# ---------------------------------------------------------------- W5: a deep queue


async def run_until(counter: Counter, cap_s: float):
    """A worker (not --once) that the counter stops after its N-th job, or we stop at cap_s."""
    worker = pgrun.make_worker({"noop": counter.noop}, **worker_options())
    counter.worker = worker
    await worker.start()
    try:
        stats = await asyncio.wait_for(worker.wait(), cap_s)
        capped = False
    except asyncio.TimeoutError:
        capped = True
        stats = await worker.stop()
    return stats, capped


def scale() -> None:
    install()
    with psycopg.connect(URL, autocommit=True) as conn:
        t = now()
        generate(conn, W5_TOTAL)
        fill_s = now() - t
        maintenance(conn)
        if count(conn) != W5_TOTAL:
            sys.exit("prefill failed")
    counter = Counter(stop_after=N)
    usage = Usage().start()
    t0 = now()
    stats, capped = asyncio.run(run_until(counter, 600))
    res = usage.stop(counter.executed)
    with psycopg.connect(URL, autocommit=True) as conn:
        remaining = count(conn)
    t_nth = counter.t_nth or now()
    out(workload="W5", variant=config_label(), n=N, queued=W5_TOTAL, executed=counter.executed,
        completed=stats.completed, given_back=stats.given_back, remaining_rows_after=remaining,
        seconds=t_nth - t0, startup_ms=(counter.t_first - t0) * 1000, value=N / (t_nth - t0),
        value_excl_startup=N / (t_nth - counter.t_first), unit="jobs/s", prefill_s=round(fill_s, 1),
        **res)
    if capped or W5_TOTAL - remaining < N:
        sys.exit(2)


# ---------------------------------------------------------------- W6: stuck named queues


def stuck() -> None:
    install()
    stuck_jobs = W6_QUEUES * W6_PER_QUEUE
    with psycopg.connect(URL, autocommit=True) as conn:
        # Queued jobs first, so they come before the free ones in (priority, run_at, id) order.
        for q in range(W6_QUEUES):
            generate(conn, W6_PER_QUEUE, queue_expr=f"'queue_{q:04d}'")
        generate(conn, W6_FREE)
        # A fake worker runs the first job of each queue, which fills the queue (its jobs come
        # first in claim order). Its lease outlives the run, so nobody reaps it.
        conn.execute("select pgrun.register_worker(%s, null, interval '30 minutes', interval '1 hour')",
                     (FAKE_WORKER,))
        claimed = conn.execute("select count(*) filter (where queue_name is not null) from "
                               "pgrun.claim_jobs(%s, %s) where id is not null",
                               (FAKE_WORKER, W6_QUEUES)).fetchone()[0]
        assert claimed == W6_QUEUES, claimed
        maintenance(conn)
        assert count(conn, "queue_name is not null") == stuck_jobs
        assert count(conn, "locked_by is not null") == W6_QUEUES
    counter = Counter(stop_after=W6_FREE)
    usage = Usage().start()
    t0 = now()
    stats, capped = asyncio.run(run_until(counter, W6_MAX_SECONDS))
    t_end = now() if capped else counter.t_nth
    res = usage.stop(counter.executed)
    with psycopg.connect(URL, autocommit=True) as conn:
        free_left = count(conn, "queue_name is null")
        stuck_left = count(conn, "queue_name is not null")
    done = W6_FREE - free_left
    out(workload="W6", variant=config_label(), n=W6_FREE, stuck=stuck_jobs, queues=W6_QUEUES,
        executed=counter.executed, completed=stats.completed, free_left=free_left, stuck_left=stuck_left,
        capped_at_s=W6_MAX_SECONDS if capped else None, seconds=t_end - t0,
        startup_ms=(counter.t_first - t0) * 1000 if counter.t_first else None,
        value=done / (t_end - t0),
        value_excl_startup=done / (t_end - counter.t_first) if counter.t_first else None,
        unit="jobs/s", **res)
    if stuck_left != stuck_jobs or (not capped and free_left):
        sys.exit(2)


MODES = {
    "enqueue-single": enqueue_single,
    "enqueue-bulk": enqueue_bulk,
    "drain": drain,
    "latency": lambda: asyncio.run(latency()),
    "idle": lambda: asyncio.run(idle()),
    "rss-idle": lambda: asyncio.run(rss_idle()),
    "scale": scale,
    "stuck": stuck,
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in MODES:
        sys.exit(f"usage: pgrun_bench.py {{{'|'.join(MODES)}}}")
    MODES[sys.argv[1]]()
