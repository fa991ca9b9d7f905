#!/usr/bin/env python3
"""Runs the runner benchmarks: pgrun alone, or pgrun side by side with the kit's anchors.

    .venv/bin/python bench/run.py pgrun            # make bench: every pgrun workload (~4 min)
    .venv/bin/python bench/run.py compare          # make bench-compare: pgrun + graphile-worker,
                                                   # procrastinate, pgqueuer, pgbench (15-23 min)
    options: --only W2,W3   workloads to run (W1a W1b W2 W3 W4 W5 W6 RSS ceiling)
             --reps 3               repetitions, interleaved within each workload (medians)
             --systems pgrun,graphile-worker       systems to run (compare)
             --table FILE.jsonl                    only print the tables of an earlier run

Every measurement runs on a fresh database (pgrun_bench_<workload>, or the kit's anchors_* names
for the anchors), created before and dropped after. The workloads run grouped, pgrun then the
anchors, each group after a 5 s single-client INSERT probe (the box has periods of slow fsync
that move commit-bound figures), so each ratio comes from measurements minutes apart at most.

Results: one JSON line per measurement appended to bench/results/results.jsonl (every run) and
written to bench/results/run-<id>.jsonl; the tables (the kit's summarize.py over this run, and
pgrun's ratio to each anchor) to bench/results/run-<id>.md. Connection: the PG* variables
(default postgres@127.0.0.1:5432); the kit is set up by bench/kit.sh.
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
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
KIT = Path(os.environ.get("BENCH_KIT", BENCH / ".kit"))
RESULTS = BENCH / "results"
PY = os.environ.get("PYTHON") or sys.executable
PGHOST = os.environ.setdefault("PGHOST", "127.0.0.1")
PGPORT = os.environ.setdefault("PGPORT", "5432")
PGUSER = os.environ.setdefault("PGUSER", "postgres")
ITEM_TIMEOUT = 900

WORKLOADS = ["W1a", "W1b", "W2", "W3", "W4", "W5", "W6", "RSS", "ceiling"]
SYSTEMS = ["pgrun", "graphile-worker", "procrastinate", "pgqueuer", "pgbench"]


@dataclass
class Item:
    system: str
    workload: str
    db: str
    cmd: list[str]
    env: dict = field(default_factory=dict)
    idle: str | None = None        # W4: the variant label given to the kit's measure_idle.sh


def plan() -> list[Item]:
    """Every measurement, in the order they run within a workload group."""
    pb = [PY, str(BENCH / "pgrun_bench.py")]
    gw = ["node", str(KIT / "node" / "gw_bench.mjs")]
    gs = ["node", str(BENCH / "graphile_scale.mjs")]
    pr = [str(KIT / "venv" / "bin" / "python"), str(KIT / "py" / "procrastinate_bench.py")]
    pq = [str(KIT / "venv" / "bin" / "python"), str(KIT / "py" / "pgqueuer_bench.py")]
    pgb = [str(KIT / "pgbench" / "run.sh")]
    P, G, R, Q, B = "pgrun", "graphile-worker", "procrastinate", "pgqueuer", "pgbench"
    return [
        # W1a: one job per call, one transaction each
        Item(P, "W1a", "pgrun_bench_w1a", pb + ["enqueue-single"], {"PGRUN_VARIANT": "sql"}),
        Item(P, "W1a", "pgrun_bench_w1a", pb + ["enqueue-single"], {"PGRUN_VARIANT": "utils"}),
        Item(P, "W1a", "pgrun_bench_w1a", pb + ["enqueue-single"], {"PGRUN_VARIANT": "utils-async"}),
        Item(G, "W1a", "anchors_gw_w1a_sql", gw + ["enqueue-single-sql"]),
        Item(G, "W1a", "anchors_gw_w1a", gw + ["enqueue-single"]),
        Item(R, "W1a", "anchors_pr_w1a", pr + ["enqueue-single"]),
        Item(Q, "W1a", "anchors_pq_w1a", pq + ["enqueue-single"]),
        Item(B, "W1a", "anchors_pgb", pgb + ["enqueue1", "0", "1", "20"], {"J": "1"}),
        # W1b: bulk
        Item(P, "W1b", "pgrun_bench_w1b", pb + ["enqueue-bulk"], {"PGRUN_VARIANT": "utils"}),
        Item(P, "W1b", "pgrun_bench_w1b", pb + ["enqueue-bulk"], {"PGRUN_VARIANT": "sql"}),
        Item(P, "W1b", "pgrun_bench_w1b", pb + ["enqueue-bulk"], {"PGRUN_VARIANT": "sql", "BATCH": "20000"}),
        Item(G, "W1b", "anchors_gw_w1b", gw + ["enqueue-bulk"]),
        Item(G, "W1b", "anchors_gw_w1b_all", gw + ["enqueue-bulk-sql"], {"BATCH": "20000"}),
        Item(R, "W1b", "anchors_pr_w1b", pr + ["enqueue-bulk"]),
        Item(Q, "W1b", "anchors_pq_w1b", pq + ["enqueue-bulk"]),
        # W2: drain 20,000 queued no-op jobs
        Item(P, "W2", "pgrun_bench_w2", pb + ["drain"], {"PGRUN_CONFIG": "default", "CONCURRENCY": "10"}),
        Item(P, "W2", "pgrun_bench_w2", pb + ["drain"], {"PGRUN_CONFIG": "default", "CONCURRENCY": "1"}),
        Item(P, "W2", "pgrun_bench_w2", pb + ["drain"], {"PGRUN_CONFIG": "tuned", "CONCURRENCY": "10"}),
        # the same with completed jobs kept a day (retention): issue 8 wants >= 0.8x of the above
        Item(P, "W2", "pgrun_bench_w2", pb + ["drain"], {"PGRUN_CONFIG": "default", "CONCURRENCY": "10",
                                                        "PGRUN_RETENTION": "1 day"}),
        Item(P, "W2", "pgrun_bench_w2", pb + ["drain"], {"PGRUN_CONFIG": "tuned", "CONCURRENCY": "10",
                                                        "PGRUN_RETENTION": "1 day"}),
        Item(G, "W2", "anchors_gw_w2", gw + ["drain"], {"GW_CONFIG": "default", "CONCURRENCY": "10"}),
        Item(G, "W2", "anchors_gw_w2", gw + ["drain"], {"GW_CONFIG": "default", "CONCURRENCY": "1"}),
        Item(G, "W2", "anchors_gw_w2", gw + ["drain"], {"GW_CONFIG": "batched", "CONCURRENCY": "10"}),
        Item(G, "W2", "anchors_gw_w2", gw + ["drain"], {"GW_CONFIG": "perftest"}),
        Item(R, "W2", "anchors_pr_w2", pr + ["drain"], {"CONCURRENCY": "10"}),
        Item(R, "W2", "anchors_pr_w2", pr + ["drain"], {"CONCURRENCY": "10", "POOL_MAX": "12"}),
        Item(Q, "W2", "anchors_pq_w2", pq + ["drain"], {"PGQ_VARIANT": "default"}),
        Item(Q, "W2", "anchors_pq_w2", pq + ["drain"], {"PGQ_VARIANT": "capped", "CONCURRENCY": "10"}),
        # W3: latency of an idle worker
        Item(P, "W3", "pgrun_bench_w3", pb + ["latency"], {"PGRUN_CONFIG": "default", "CONCURRENCY": "10"}),
        Item(P, "W3", "pgrun_bench_w3", pb + ["latency"], {"PGRUN_CONFIG": "tuned", "CONCURRENCY": "10"}),
        Item(G, "W3", "anchors_gw_w3", gw + ["latency"], {"GW_CONFIG": "default", "CONCURRENCY": "10"}),
        Item(G, "W3", "anchors_gw_w3", gw + ["latency"], {"GW_CONFIG": "batched", "CONCURRENCY": "10"}),
        Item(R, "W3", "anchors_pr_w3", pr + ["latency"], {"CONCURRENCY": "10"}),
        Item(Q, "W3", "anchors_pq_w3", pq + ["latency"], {"PGQ_VARIANT": "default"}),
        # W4: idle cost (statements/s from the server log, via the kit's lib/measure_idle.sh)
        Item(P, "W4", "pgrun_bench_w4", pb + ["idle"], {"PGRUN_CONFIG": "default", "CONCURRENCY": "10"},
             idle="default concurrency=10"),
        Item(P, "W4", "pgrun_bench_w4", pb + ["idle"], {"PGRUN_CONFIG": "tuned", "CONCURRENCY": "10"},
             idle="tuned concurrency=10 prefetch=500"),
        Item(G, "W4", "anchors_gw_w4", gw + ["idle"], {"GW_CONFIG": "default", "CONCURRENCY": "10"},
             idle="default concurrency=10"),
        Item(G, "W4", "anchors_gw_w4", gw + ["idle"], {"GW_CONFIG": "batched", "CONCURRENCY": "10"},
             idle="batched concurrency=10"),
        Item(R, "W4", "anchors_pr_w4", pr + ["idle"], {"CONCURRENCY": "10"}, idle="concurrency=10"),
        Item(Q, "W4", "anchors_pq_w4", pq + ["idle"], {"PGQ_VARIANT": "default"},
             idle="default batch_size=10"),
        # W5: 1,000,000 queued; rate of the first 20,000
        Item(P, "W5", "pgrun_bench_w5", pb + ["scale"], {"PGRUN_CONFIG": "default", "CONCURRENCY": "10"}),
        Item(P, "W5", "pgrun_bench_w5", pb + ["scale"], {"PGRUN_CONFIG": "tuned", "CONCURRENCY": "10"}),
        Item(G, "W5", "pgrun_bench_gw_w5", gs + ["scale"], {"GW_CONFIG": "default", "CONCURRENCY": "10"}),
        Item(G, "W5", "pgrun_bench_gw_w5", gs + ["scale"], {"GW_CONFIG": "batched", "CONCURRENCY": "10"}),
        # W6: 100,000 jobs behind 100 locked named queues + 50,000 free ones
        Item(P, "W6", "pgrun_bench_w6", pb + ["stuck"], {"PGRUN_CONFIG": "default", "CONCURRENCY": "10"}),
        Item(P, "W6", "pgrun_bench_w6", pb + ["stuck"], {"PGRUN_CONFIG": "tuned", "CONCURRENCY": "10"}),
        Item(G, "W6", "pgrun_bench_gw_w6", gs + ["stuck"], {"GW_CONFIG": "default", "CONCURRENCY": "10"}),
        Item(G, "W6", "pgrun_bench_gw_w6", gs + ["stuck"], {"GW_CONFIG": "batched", "CONCURRENCY": "10"}),
        # resident memory of an idle worker
        Item(P, "RSS", "pgrun_bench_rss", pb + ["rss-idle"], {"PGRUN_CONFIG": "default"}),
        # the physical ceiling of claim + delete with SKIP LOCKED
        Item(B, "ceiling", "anchors_pgb", pgb + ["dequeue1", "200000", "10", "20"]),
        Item(B, "ceiling", "anchors_pgb", pgb + ["dequeue10", "1000000", "10", "20"]),
    ]


# ---------------------------------------------------------------- databases, recording


def url(db: str) -> str:
    return f"postgresql://{PGUSER}@{PGHOST}:{PGPORT}/{db}"


def psql_admin(sql: str) -> None:
    subprocess.run(["psql", url("postgres"), "-qAt", "-c", sql], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def fresh_db(db: str) -> str:
    drop_db(db)
    psql_admin(f'create database "{db}"')
    return url(db)


def drop_db(db: str) -> None:
    try:
        psql_admin(f'drop database if exists "{db}" with (force)')
    except subprocess.CalledProcessError:
        pass


class Recorder:
    def __init__(self, run_id: str) -> None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id
        self.path = RESULTS / f"run-{run_id}.jsonl"
        self.rows: list[dict] = []
        self.stderr = open(RESULTS / "stderr.log", "a")

    def add(self, row: dict, rep: int = 1) -> None:
        row.update(rep=rep, run=self.run_id, ts=time.strftime("%H:%M:%S"))
        line = json.dumps(row)
        for p in (self.path, RESULTS / "results.jsonl"):
            with open(p, "a") as f:
                f.write(line + "\n")
        self.rows.append(row)
        print(line, flush=True)


def execute(item: Item, rec: Recorder, rep: int = 1) -> None:
    env = {**os.environ, **item.env, "DATABASE_URL": fresh_db(item.db), "BENCH_KIT": str(KIT)}
    cmd = item.cmd
    if item.idle is not None:
        cmd = [str(KIT / "lib" / "measure_idle.sh"), item.system, item.idle, "--", *cmd]
    label = " ".join(f"{k}={v}" for k, v in item.env.items())
    print(f"## {item.system} {item.workload} {' '.join(Path(c).name for c in item.cmd[1:])} {label}",
          file=sys.stderr, flush=True)
    rec.stderr.write(f"## {time.strftime('%H:%M:%S')} {item.system} {item.workload} {cmd} {label}\n")
    rec.stderr.flush()
    t = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=rec.stderr, text=True,
                            start_new_session=True, cwd=str(ROOT))
    try:
        stdout, _ = proc.communicate(timeout=ITEM_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)   # the group we started, and only it
        stdout, _ = proc.communicate()
        print(f"   timed out after {ITEM_TIMEOUT} s", file=sys.stderr)
    finally:
        drop_db(item.db)
    found = False
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            row = json.loads(line)
            row.setdefault("workload", item.workload)
            row["wall_s"] = round(time.monotonic() - t, 1)
            rec.add(row, rep)
            found = True
    if proc.returncode or not found:
        print(f"   FAILED (exit {proc.returncode}); see {RESULTS / 'stderr.log'}", file=sys.stderr)
        rec.add(dict(system=item.system, workload=item.workload, variant="FAILED " + label, n=0,
                     value=None, unit="-", error=f"exit {proc.returncode}", cmd=item.cmd[1:]))


def probe(rec: Recorder, before: str) -> None:
    """5 s single-client INSERT pgbench: the commit latency of the moment."""
    env = {**os.environ, "J": "1", "DATABASE_URL": fresh_db("pgrun_bench_probe")}
    try:
        r = subprocess.run([str(KIT / "pgbench" / "run.sh"), "enqueue1", "0", "1", "5"], env=env,
                           capture_output=True, text=True, timeout=120)
        row = json.loads(r.stdout.strip().splitlines()[-1])
        row.update(system="probe", variant=f"before {before}")
        rec.add(row)
    except Exception as error:  # a probe is advisory
        print(f"   probe failed: {error}", file=sys.stderr)
    finally:
        drop_db("pgrun_bench_probe")


# ---------------------------------------------------------------- tables


def pick(rows, system, workload, variant_prefix=None, key="value", best="max"):
    """(value, variant): the median over repetitions of each matching variant, then the best
    variant (max, or min for latency and idle cost); (None, None) if nothing matches."""
    by_variant: dict[str, list[float]] = {}
    for r in rows:
        var = str(r.get("variant", ""))
        # a retention variant is compared only when asked for by name
        if (r.get("system") == system and r.get("workload") == workload and r.get(key) is not None
                and not var.startswith("FAILED")
                and ("retention=" not in var or "retention=" in (variant_prefix or ""))
                and (variant_prefix is None or var.startswith(variant_prefix))):
            by_variant.setdefault(var, []).append(r[key])
    if not by_variant:
        return None, None
    medians = {v: statistics.median(xs) for v, xs in by_variant.items()}
    var = (min if best == "min" else max)(medians, key=medians.get)
    return medians[var], var


def fmt(v, digits=None):
    if v is None:
        return "-"
    if digits is not None:
        return f"{v:.{digits}f}"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"


# (label, workload, metric key, pgrun variant prefix, anchor system, anchor variant prefix,
#  direction, target) ; direction "higher": ratio = pgrun / anchor; "lower": anchor / pgrun.
TARGETS = [
    ("W1a sql add_job", "W1a", "value", "sql add_job", "graphile-worker", "sql add_job", "higher", 1.5),
    ("W1a utility add_job", "W1a", "value", "AsyncWorkerUtils", "graphile-worker", "workerUtils.addJob",
     "higher", None),
    ("W1b 1,000 per call", "W1b", "value", "WorkerUtils.add_jobs batch=1000", "graphile-worker",
     "workerUtils.addJobs batch=1000", "higher", 1.0),
    ("W1b sql, 20,000 in one call", "W1b", "value", "sql add_jobs(json_populate_recordset) batch=20000",
     "graphile-worker", "sql add_jobs(json_populate_recordset) batch=20000", "higher", 1.0),
    ("W2 default vs default", "W2", "value", "default concurrency=10", "graphile-worker",
     "default concurrency=10", "higher", 3.0),
    ("W2 best vs batched", "W2", "value", None, "graphile-worker", "batched concurrency=10", "higher", 1.0),
    ("W2 best vs perftest", "W2", "value", None, "graphile-worker", "perftest", "higher", None),
    ("W3 p50 (default)", "W3", "p50_ms", "default", "graphile-worker", "default", "lower", 1.0),
    ("W3 p99 (default)", "W3", "p99_ms", "default", "graphile-worker", "default", "lower", None),
    ("W4 statements/s idle (default)", "W4", "value", "default", "graphile-worker", "default", "lower", None),
    ("W5 default vs default", "W5", "value", "default", "graphile-worker", "default", "higher", None),
    ("W5 tuned vs batched", "W5", "value", "tuned", "graphile-worker", "batched", "higher", None),
    ("W6 default vs default", "W6", "value", "default", "graphile-worker", "default", "higher", 2.0),
    ("W6 tuned vs batched", "W6", "value", "tuned", "graphile-worker", "batched", "higher", 2.0),
]

# pgbench's ceiling for a workload: W1a ~ single-row INSERT, W2 ~ DELETE ... SKIP LOCKED LIMIT 10
CEILING = {"W1a": ("ceiling", "enqueue1"), "W2": ("ceiling", "dequeue10")}


def tables(rows: list[dict]) -> str:
    lines = []
    add = lines.append
    add("### pgrun against Graphile Worker: the targets of issues 5 and 8\n")
    add("ratio = how many times better pgrun is (pgrun/anchor for rates, anchor/pgrun for latency "
        "and idle statements); targets marked ✅ met, ❌ missed.\n")
    add("| comparison | pgrun variant | pgrun | graphile variant | graphile | ratio | target |")
    add("|---|---|---|---|---|---|---|")
    for label, wl, key, pv, asys, av, direction, target in TARGETS:
        p, pvar = pick(rows, "pgrun", wl, pv, key, best="min" if direction == "lower" else "max")
        a, avar = pick(rows, asys, wl, av, key, best="min" if direction == "lower" else "max")
        ratio = None
        if p and a:
            ratio = p / a if direction == "higher" else a / p
        mark = "" if target is None or ratio is None else (" ✅" if ratio >= target else " ❌")
        add(f"| {label} | {pvar or '-'} | {fmt(p)} | {avar or '-'} | {fmt(a)} | {fmt(ratio, 2)}{mark} | "
            f"{f'≥ {target:.1f}×' if target else ''} |")
    # absolute targets and pgrun-internal ones
    p99, _ = pick(rows, "pgrun", "W3", "default", "p99_ms", best="min")
    add(f"| W3 p99 (default), absolute | default | {fmt(p99)} ms | | | | ≤ 10 ms"
        f"{'' if p99 is None else (' ✅' if p99 <= 10 else ' ❌')} |")
    for cfg in ("default", "tuned"):
        idle, _ = pick(rows, "pgrun", "W4", cfg, "value", best="min")
        if idle is not None:
            add(f"| W4 statements/s per idle worker ({cfg}), absolute | {cfg} | {fmt(idle)} | | | | ≤ 0.5"
                f"{' ✅' if idle <= 0.5 else ' ❌'} |")
    for cfg in ("default", "tuned"):
        w5, _ = pick(rows, "pgrun", "W5", cfg, "value")
        w2, _ = pick(rows, "pgrun", "W2", f"{cfg} concurrency=10", "value")
        if w5 and w2:
            r = w5 / w2
            add(f"| W5 rate / W2 rate ({cfg}) | {cfg} | {fmt(w5)} / {fmt(w2)} | | | {r:.2f}"
                f"{' ✅' if r >= 0.8 else ' ❌'} | ≥ 0.8 |")
    for cfg, extra in (("default", ""), ("tuned", " prefetch=500")):
        off, _ = pick(rows, "pgrun", "W2", f"{cfg} concurrency=10{extra}", "value")
        on, _ = pick(rows, "pgrun", "W2", f"{cfg} concurrency=10{extra} retention=1day", "value")
        if off and on:
            r = on / off
            add(f"| W2 with a day's retention / without ({cfg}) | {cfg} | {fmt(on)} / {fmt(off)} | | "
                f"| {r:.2f}{' ✅' if r >= 0.8 else ' ❌'} | ≥ 0.8 |")
    gw5 = [pick(rows, "graphile-worker", w, c, "value") for w in ("W5", "W2") for c in ("default",)]
    if gw5[0][0] and gw5[1][0]:
        add(f"| (Graphile W5 / W2, default) | | | default | {fmt(gw5[0][0])} / {fmt(gw5[1][0])} | "
            f"{gw5[0][0] / gw5[1][0]:.2f} | |")

    anchors = [s for s in SYSTEMS[1:] if any(r.get("system") == s for r in rows)]
    if anchors:
        best_table(rows, anchors, add)
    resources_table(rows, add)
    return "\n".join(lines)


def best_table(rows: list[dict], anchors: list[str], add) -> None:
    add("\n### pgrun's best against each anchor's best, per workload\n")
    add("Best variant of each system in this run; ratio as above (>1: pgrun better).\n")
    add("| workload | metric | pgrun | " + " | ".join(anchors) + " |")
    add("|---|---|---|" + "---|" * len(anchors))
    for wl, key, direction in [("W1a", "value", "higher"), ("W1b", "value", "higher"),
                               ("W2", "value", "higher"), ("W2", "value_excl_startup", "higher"),
                               ("W3", "p50_ms", "lower"), ("W3", "p99_ms", "lower"),
                               ("W4", "value", "lower"), ("W5", "value", "higher"),
                               ("W6", "value", "higher")]:
        best = "min" if direction == "lower" else "max"
        p, _ = pick(rows, "pgrun", wl, None, key, best=best)
        if p is None:
            continue
        cells = []
        for s in anchors:
            a_wl = wl
            if s == "pgbench":  # the ceiling: W1a ~ enqueue1, W2 ~ dequeue10 on 1M rows
                a_wl, apref = CEILING.get(wl, (None, None))
                a, _ = pick(rows, s, a_wl, apref, "value", best="max") if a_wl else (None, None)
            else:
                a, _ = pick(rows, s, a_wl, None, key, best=best)
            if not (a and p):
                cells.append("-")
            else:
                cells.append(f"{fmt(a)} ({(p / a if direction == 'higher' else a / p):.2f}×)")
        unit = {"value": "jobs/s" if wl not in ("W4",) else "statements/s",
                "value_excl_startup": "jobs/s excl. startup", "p50_ms": "p50 ms", "p99_ms": "p99 ms"}[key]
        add(f"| {wl} | {unit} | {fmt(p)} | " + " | ".join(cells) + " |")


def resources_table(rows: list[dict], add) -> None:
    add("\n### pgrun resources\n")
    add("| workload | variant | jobs/s | worker CPU s / 10k jobs | its DB backends' CPU s / 10k jobs | "
        "RSS start → end MB |")
    add("|---|---|---|---|---|---|")
    for r in rows:
        if r.get("system") == "pgrun" and "cpu_s_per_10k" in r:
            add(f"| {r['workload']} | {r['variant']} | {fmt(r['value'])} | {fmt(r['cpu_s_per_10k'], 2)} | "
                f"{fmt(r.get('db_cpu_s_per_10k'), 2)} | {r.get('rss_start_mb')} → {r.get('rss_end_mb')} |")
        if r.get("system") == "pgrun" and r.get("workload") == "RSS":
            add(f"| RSS | {r['variant']} | | | | {r['value']} (idle) |")
    probes = [r["tps"] for r in rows if r.get("system") == "probe"]
    if probes:
        add(f"\nCommit-latency probe (5 s single-client INSERT, tps) before each group: "
            f"{', '.join(fmt(p) for p in probes)} (median {fmt(statistics.median(probes))}).")
    versions = sorted({r["version"] for r in rows if r.get("system") == "pgrun" and r.get("version")})
    if versions:
        add(f"\npgrun measured: {', '.join(versions)}.")


def summarize(path: Path) -> str:
    r = subprocess.run([sys.executable, str(KIT / "summarize.py"), str(path)], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else f"(summarize.py failed: {r.stderr.strip()[-300:]})"


# ---------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["pgrun", "compare"], nargs="?", default="pgrun")
    ap.add_argument("--only", help="comma-separated workloads: " + " ".join(WORKLOADS))
    ap.add_argument("--systems", help="comma-separated systems (compare): " + " ".join(SYSTEMS))
    ap.add_argument("--reps", type=int, default=1,
                    help="repetitions, interleaved within each workload group (tables use medians)")
    ap.add_argument("--table", type=Path, help="print the tables of an earlier run's .jsonl and exit")
    args = ap.parse_args()

    if args.table:
        rows = [json.loads(x) for x in open(args.table) if x.strip()]
        print(summarize(args.table))
        print(tables(rows))
        return

    setup = subprocess.run([str(BENCH / "kit.sh")], stdout=subprocess.PIPE, text=True)
    if setup.returncode:
        sys.exit("bench/kit.sh failed")
    systems = ["pgrun"] if args.what == "pgrun" else (args.systems.split(",") if args.systems else SYSTEMS)
    workloads = args.only.split(",") if args.only else WORKLOADS
    items = [i for i in plan() if i.system in systems and i.workload in workloads]
    run_id = time.strftime("%Y%m%d-%H%M%S") + ("-compare" if args.what == "compare" else "-pgrun")
    rec = Recorder(run_id)
    t0 = time.monotonic()
    for wl in WORKLOADS:
        group = [i for i in items if i.workload == wl]
        if not group:
            continue
        print(f"### {wl} ({time.monotonic() - t0:.0f} s in)", file=sys.stderr, flush=True)
        if wl not in ("RSS", "ceiling"):
            probe(rec, wl)
        for rep in range(1, args.reps + 1):
            for item in group:
                execute(item, rec, rep)
    print(f"### done in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    report = f"## Run {run_id}\n\n" + summarize(rec.path) + "\n" + tables(rec.rows) + "\n"
    (RESULTS / f"run-{run_id}.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
