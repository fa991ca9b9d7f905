"""Bloat under long transactions: does the queue keep its throughput while something
pins the xmin horizon, and does it recover after?

Two scenarios, each on a fresh database of a private cluster (tests/chaos/cluster.py),
with 2 `pgrun` worker processes (concurrency 10, a no-op task) kept busy by a backlog
of 5,000 to 10,000 available jobs:

  idle  a session opens a REPEATABLE READ transaction, reads the queue, takes an
        xid and sits idle in transaction for the whole middle phase;
  rr    two REPEATABLE READ readers scan the queue every second, each in
        transactions of --reader-seconds, staggered, for the whole middle phase;
  overload  (not in `both`) nothing pins the horizon; the baseline keeps a
        backlog of 50,000 to 100,000 jobs (so that it never runs short); in the
        middle phase jobs arrive at 1.5 times the drain rate (--overload): the
        baseline's at first, then that of the last three samples (on a shared
        machine the rate moves, and a fixed one may not overload at all), so
        the backlog grows; none arrive in the recovery phase (as long as the
        middle phase), which shows how long the backlog takes to drain.

Each scenario runs a warm-up of 20 s (not reported), a baseline (a fifth of --minutes,
at least 30 s), the pinned phase (--minutes) and a recovery phase (as long as the
baseline). Every --sample seconds:
dead and live tuples of the jobs table (pg_stat_user_tables), its size, jobs done per
second (the completions counted in the per-minute outcome rollups) and the backlog.

    python bench/bloat.py --minutes 10                 # make bloat
    python bench/bloat.py --minutes 3 --out /tmp/bloat # a shorter run
    python bench/bloat.py --scenario overload --minutes 3

Writes bloat-<scenario>.csv and bloat-<scenario>.svg (matplotlib when it is
installed, else a plain SVG of its own) to --out, and prints a table of each phase (and of the
pinned phase's last minute, where a cost that grows with the dead rows shows most).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from chaos.cluster import PrivateCluster  # noqa: E402
from pgrun.migrate import migrate  # noqa: E402
from support import WorkerProcess  # noqa: E402

WARM_UP = 20.0               # seconds before the baseline (workers start, plans settle); not reported
LOW, HIGH = 5_000, 10_000    # the backlog is topped up to HIGH when it falls under LOW
# the overload's baseline measures the drain rate, so its queue must never run short at up
# to 10,000 jobs/s between two looks of the top-up
OVERLOAD_LOW, OVERLOAD_HIGH = 50_000, 100_000
# What the top-up goes by: the jobs completed so far, from the per-minute outcome rollups
# every completion writes (exact and a few rows; the table statistics lagged by seconds, and
# the queue ran dry between samples when the workers drained faster than that)
COMPLETED = "select coalesce(sum(completed), 0)::bigint from pgrun._private_outcome_minutes"
STATS = ("select n_dead_tup, n_live_tup, n_tup_del, pg_total_relation_size(relid) "
         "from pg_stat_user_tables where schemaname = 'pgrun' and relname = '_private_jobs'")


@dataclass
class Sample:
    seconds: float
    phase: str
    dead: int
    live: int
    size_mb: float
    jobs_per_second: float
    backlog: int
    xmin_age: int


class Scenario:
    def __init__(self, cluster: PrivateCluster, name: str, pinned_seconds: float, baseline_seconds: float,
                 sample_seconds: float, reader_seconds: float) -> None:
        self.cluster, self.name = cluster, name
        self.pinned, self.baseline, self.every = pinned_seconds, baseline_seconds, sample_seconds
        self.reader_seconds = reader_seconds
        self.db = f"bloat_{name}"
        self.added = 0
        self.stop = threading.Event()
        self.pin_stop = threading.Event()
        self.samples: list[Sample] = []
        self.middle = "overload" if name == "overload" else "pinned"
        self.phase = "warm-up"
        self.arrival_rate = 0.0   # jobs/s the producer adds in the overload phase
        self.overload = 1.5

    def dsn(self) -> str:
        return self.cluster.dsn(self.db)

    def _add(self, conn: psycopg.Connection, count: int) -> None:
        conn.execute("select count(*) from pgrun.add_jobs(array(select row('chaos.noop', null, null, null, "
                     "null, null, null, null, null, null)::pgrun.job_spec from generate_series(1, %s)))",
                     (count,))
        self.added += count

    def _producer(self) -> None:
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            owed, last = 0.0, time.monotonic()
            while not self.stop.wait(0.2):
                now, elapsed = time.monotonic(), time.monotonic() - last
                last = now
                if self.phase == "overload":   # arrivals whatever the backlog, above what drains
                    recent = [x.jobs_per_second for x in self.samples[-3:] if x.phase == "overload"]
                    if len(recent) == 3:   # the machine is shared: its drain rate moves
                        self.arrival_rate = self.overload * statistics.median(recent)
                    owed += self.arrival_rate * elapsed
                    if owed >= 1:
                        self._add(conn, int(owed))
                        owed -= int(owed)
                    continue
                if self.name == "overload" and self.phase == "recovery":
                    continue   # nothing arrives: the backlog drains
                low, high = (OVERLOAD_LOW, OVERLOAD_HIGH) if self.name == "overload" else (LOW, HIGH)
                backlog = self.added - conn.execute(COMPLETED).fetchone()[0]
                if backlog < low:
                    self._add(conn, high - backlog)

    def _idle_in_transaction(self) -> None:
        with psycopg.connect(self.dsn(), application_name="bloat: idle in transaction") as conn:
            conn.execute("set transaction isolation level repeatable read")
            conn.execute("select count(*) from pgrun.jobs where state = 'available'")
            conn.execute("select txid_current()")
            self.pin_stop.wait()
            conn.rollback()

    def _reader(self, offset: float) -> None:
        if self.pin_stop.wait(offset):
            return
        with psycopg.connect(self.dsn(), application_name="bloat: repeatable read reader") as conn:
            while not self.pin_stop.is_set():
                conn.execute("set transaction isolation level repeatable read")
                ends = time.monotonic() + self.reader_seconds
                while time.monotonic() < ends and not self.pin_stop.wait(1.0):
                    conn.execute("select count(*), min(run_at) from pgrun.jobs "
                                 "where state in ('available', 'running')").fetchone()
                conn.commit()

    def run(self) -> list[Sample]:
        with self.cluster.connect() as admin:
            admin.execute(f"create database {self.db}")
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            migrate(conn, "pgrun")
            self._add(conn, OVERLOAD_HIGH if self.name == "overload" else HIGH)
            conn.execute("analyze pgrun._private_jobs")
            conn.execute("select pg_stat_force_next_flush()")

        workers = [WorkerProcess(["--tasks", "tasks.chaos", "--concurrency", "10"], self.dsn())
                   for _ in range(2)]
        threads = [threading.Thread(target=self._producer, daemon=True)]
        try:
            for worker in workers:
                worker.wait_ready(60)
            threads[0].start()
            self._sample(workers)
        finally:
            self.stop.set()
            self.pin_stop.set()
            for thread in threads:
                thread.join(30)
            for worker in workers:
                worker.stop()
        return self.samples

    def _sample(self, workers) -> None:
        pinners: list[threading.Thread] = []
        started = time.monotonic()
        # an overload's backlog needs longer than the baseline to drain
        recovery = self.pinned if self.name == "overload" else self.baseline
        phases = [("warm-up", WARM_UP), ("baseline", self.baseline), (self.middle, self.pinned),
                  ("recovery", recovery)]
        ends, elapsed = [], 0.0
        for phase, seconds in phases:
            elapsed += seconds
            ends.append((phase, elapsed))
        previous = (time.monotonic(), 0)
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            phase_index = 0
            while True:
                now = time.monotonic() - started
                while phase_index < len(ends) and now >= ends[phase_index][1]:
                    phase_index += 1
                    if phase_index == 2 and self.name == "overload":
                        base = [x.jobs_per_second for x in self.samples if x.phase == "baseline"][1:]
                        self.arrival_rate = self.overload * statistics.median(base)
                        if not self.arrival_rate:
                            raise RuntimeError("the baseline measured no drain rate")
                    elif phase_index == 2:
                        pinners = self._pin()
                    if phase_index == 3:
                        self.pin_stop.set()
                        for thread in pinners:
                            thread.join(self.reader_seconds + 10)
                if phase_index == len(ends):
                    return
                self.phase = ends[phase_index][0]
                for worker in workers:
                    if worker.proc.poll() is not None:
                        raise RuntimeError(f"a worker exited:\n{worker.output[-3000:]}")
                dead, live, _, size = conn.execute(STATS).fetchone()
                completed = conn.execute(COMPLETED).fetchone()[0]
                xmin_age = conn.execute("select coalesce(max(age(backend_xmin)), 0) from pg_stat_activity "
                                        "where datname = current_database()").fetchone()[0]
                clock = time.monotonic()
                rate = (completed - previous[1]) / (clock - previous[0]) if self.samples else 0.0
                previous = (clock, completed)
                self.samples.append(Sample(round(now, 1), ends[phase_index][0], dead, live, size / 2**20,
                                           rate, self.added - completed, xmin_age))
                # sampling is by the clock: nothing to wait for
                time.sleep(self.every)

    def _pin(self) -> list[threading.Thread]:
        if self.name == "idle":
            targets = [(self._idle_in_transaction, ())]
        else:
            targets = [(self._reader, (0.0,)), (self._reader, (self.reader_seconds / 2,))]
        threads = [threading.Thread(target=t, args=a, daemon=True) for t, a in targets]
        for thread in threads:
            thread.start()
        return threads


def phase_row(label: str, rows: list[Sample], baseline: float | None) -> str:
    rate = statistics.median(s.jobs_per_second for s in rows)
    ratio = rate / baseline if baseline else 0.0
    return (f"| {label} | {rows[-1].seconds - rows[0].seconds:.0f} | {rate:.0f} | {ratio:.0%} | "
            f"{max(s.dead for s in rows)} | {max(s.size_mb for s in rows):.1f} | "
            f"{max(s.xmin_age for s in rows)} | {max(s.backlog for s in rows)} |")


def phase_table(name: str, samples: list[Sample]) -> str:
    lines = [f"scenario {name}:", "| phase | seconds | jobs/s (median) | vs baseline | dead tuples (max) | "
             "table MB (max) | xmin age (max) | backlog (max) |", "|---|---|---|---|---|---|---|---|"]
    rates = {}
    for phase in ("baseline", "overload" if name == "overload" else "pinned", "recovery"):
        rows = [s for s in samples if s.phase == phase][1:]   # the first sample of a phase straddles it
        if not rows:
            continue
        rates[phase] = statistics.median(s.jobs_per_second for s in rows)
        lines.append(phase_row(phase, rows, rates.get("baseline")))
        if phase == "pinned":   # where a cost that grows with the dead rows shows most
            last = [s for s in rows if s.seconds > rows[-1].seconds - 60]
            lines.append(phase_row("pinned, last minute", last, rates.get("baseline")))
    drained = [s for s in samples if s.phase == "recovery" and s.backlog < LOW]
    recovery = [s for s in samples if s.phase == "recovery"]
    if name == "overload" and recovery:
        lines.append(f"backlog at the end of the overload: {recovery[0].backlog}; under {LOW} "
                     + (f"{drained[0].seconds - recovery[0].seconds:.0f} s into the recovery" if drained
                        else "not within the recovery phase"))
    return "\n".join(lines)


def write_csv(path: Path, samples: list[Sample]) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(Sample.__dataclass_fields__)
        for s in samples:
            writer.writerow([s.seconds, s.phase, s.dead, s.live, f"{s.size_mb:.2f}",
                             f"{s.jobs_per_second:.1f}", s.backlog, s.xmin_age])


def write_plot(path: Path, title: str, samples: list[Sample]) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        path.write_text(svg_plot(title, samples))
        return
    import matplotlib.pyplot as plt
    fig, (top, middle, bottom) = plt.subplots(3, 1, sharex=True, figsize=(8, 7))
    xs = [s.seconds for s in samples]
    top.plot(xs, [s.jobs_per_second for s in samples])
    top.set_ylabel("jobs/s")
    middle.plot(xs, [s.dead for s in samples], color="tab:red")
    middle.set_ylabel("dead tuples")
    bottom.plot(xs, [s.backlog for s in samples], color="tab:green")
    bottom.set_ylabel("backlog")
    bottom.set_xlabel("seconds")
    for axis in (top, middle, bottom):
        pinned = [s.seconds for s in samples if s.phase in ("pinned", "overload")]
        if pinned:
            axis.axvspan(pinned[0], pinned[-1], alpha=0.15)
    top.set_title(title)
    fig.savefig(path, format="svg")
    plt.close(fig)


def svg_plot(title: str, samples: list[Sample], width: int = 720, height: int = 200) -> str:
    """Three stacked line charts (jobs/s, dead tuples, backlog), the middle phase shaded."""
    xs = [s.seconds for s in samples]
    x_max = max(xs) or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 80}" height="{3 * height + 105}" '
             'font-family="sans-serif" font-size="11">',
             f'<text x="40" y="16" font-size="13">{title}</text>']
    charts = (("jobs/s", [s.jobs_per_second for s in samples], "#1f77b4"),
              ("dead tuples", [s.dead for s in samples], "#d62728"),
              ("backlog", [s.backlog for s in samples], "#2ca02c"))
    for row, (label, values, colour) in enumerate(charts):
        top = 30 + row * (height + 25)
        y_max = max(values) or 1.0

        def x(v: float) -> float:
            return 60 + v / x_max * width

        def y(v: float, top: int = top, y_max: float = y_max) -> float:
            return top + height - v / y_max * height

        pinned = [s.seconds for s in samples if s.phase in ("pinned", "overload")]
        if pinned:
            parts.append(f'<rect x="{x(pinned[0]):.1f}" y="{top}" width="{x(pinned[-1]) - x(pinned[0]):.1f}" '
                         f'height="{height}" fill="#cccccc" opacity="0.4"/>')
        parts.append(f'<rect x="60" y="{top}" width="{width}" height="{height}" fill="none" stroke="#888"/>')
        points = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in zip(xs, values, strict=True))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        parts.append(f'<text x="4" y="{top + 10}">{y_max:,.0f}</text>')
        parts.append(f'<text x="4" y="{top + height}">0</text>')
        parts.append(f'<text x="{60 + width / 2 - 30}" y="{top + 14}">{label}</text>')
    parts.append(f'<text x="60" y="{3 * height + 95}">0 s</text>')
    parts.append(f'<text x="{width + 20}" y="{3 * height + 95}">{x_max:.0f} s</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/bloat.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of each pinned phase")
    parser.add_argument("--scenario", choices=["idle", "rr", "both", "overload"], default="both")
    parser.add_argument("--overload", type=float, default=1.5,
                        help="arrivals in the overload scenario, as a multiple of the measured drain rate")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--reader-seconds", type=float, default=30.0,
                        help="how long each REPEATABLE READ reader's transaction lasts")
    parser.add_argument("--out", type=Path, default=Path("bloat-results"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    pinned = args.minutes * 60
    baseline = max(30.0, pinned / 5)
    names = ["idle", "rr"] if args.scenario == "both" else [args.scenario]
    with PrivateCluster() as cluster:
        for name in names:
            scenario = Scenario(cluster, name, pinned, baseline, args.sample, args.reader_seconds)
            scenario.overload = args.overload
            samples = scenario.run()
            write_csv(args.out / f"bloat-{name}.csv", samples)
            title = {"idle": "idle-in-transaction session pinning xmin",
                     "rr": "REPEATABLE READ readers scanning the queue",
                     "overload": f"jobs arriving at {args.overload:g}x the drain rate"}[name]
            middle = "overloaded" if name == "overload" else "pinned"
            write_plot(args.out / f"bloat-{name}.svg", f"{title} ({args.minutes:g} min {middle}, shaded)",
                       samples)
            print(phase_table(name, samples), flush=True)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
