"""The chaos driver: N jobs drained by real `pgrun` worker processes on a private
cluster while faults are injected (chaos/faults.py); then the books are checked
(chaos/checks.py) and a summary printed.

    cd tests && python -m chaos --jobs 100000 --faults 40    # make chaos
    ChaosRun(jobs=3000, faults=[...]).run()                   # test_chaos.py

Faults are spread over the run by progress (fault i of F after 0.7 i/F of the jobs
ran), so a slow machine sees the same faults, only later."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from pgrun.fetcher import default_prefetch
from pgrun.migrate import migrate
from tasks.chaos import RUNS_TABLE

from . import checks
from .cluster import PrivateCluster
from .faults import KINDS, Fault, Pool, db_now

DATABASE = "chaos"
FAULTS_UNTIL = 0.7      # faults are spread over the first 70 % of the runs: jobs stay to be cut
STALL_SECONDS = 120.0   # no job ran for this long: the run is stuck (a finding, not a flake)


class Stalled(AssertionError):
    pass


class ChaosRun:
    def __init__(self, *, jobs: int, faults: list[str], workers: int = 4, concurrency: int = 10,
                 seed: int = 1, worker_args: tuple[str, ...] = (), say: Callable[[str], None] = print,
                 cluster: PrivateCluster | None = None, standby: PrivateCluster | None = None,
                 jobs_after: int = 0, log_dir: Path | None = None) -> None:
        unknown = [kind for kind in faults if kind not in KINDS]
        if unknown:
            raise ValueError(f"unknown faults {unknown}; known: {', '.join(KINDS)}")
        self.jobs = jobs
        self.jobs_after = jobs_after   # added once the faults are over
        self.fault_kinds = faults
        self.workers = workers
        self.concurrency = concurrency
        self.rng = random.Random(seed)
        self.worker_args = worker_args
        self.say = say
        self._given_cluster = cluster
        self.cluster: PrivateCluster | None = None
        self.standby = standby   # a streaming standby of `cluster`, for the failover fault
        self.conn: psycopg.Connection | None = None
        self.pool: Pool | None = None
        self.faults: list[Fault] = []
        self.log_dir = log_dir          # each worker's output is written there at the end
        # A worker holds at most its slots and its prefetch (outcomes not yet written included),
        # and for a moment one claim more whose answer was lost; beyond that it holds jobs it
        # cannot run or report (tests/test_fault_15_outcomes_backlog.py).
        self.hold_limit = 2 * (concurrency + default_prefetch(concurrency))
        self.over_held: dict[str, int] = {}   # worker id: the most running jobs it was seen to hold
        self._held_checked = 0.0

    # ---------------------------------------------------------------- connections

    def reconnect(self) -> None:
        with contextlib.suppress(psycopg.Error):
            if self.conn is not None:
                self.conn.close()
        self.cluster.wait_ready()
        self.conn = psycopg.connect(self.cluster.dsn(DATABASE), autocommit=True,
                                    application_name="chaos driver")

    def _query(self, sql: str, params=None):
        """One row from the driver's connection, reconnecting across a server restart."""
        for attempt in range(30):
            try:
                return self.conn.execute(sql, params).fetchone()
            except psycopg.OperationalError:
                if attempt == 29:
                    raise
                time.sleep(0.5)
                with contextlib.suppress(psycopg.OperationalError):
                    self.reconnect()
        raise AssertionError("unreachable")

    def check_held(self) -> None:
        """Notes every worker holding more running jobs than its slots and prefetch allow."""
        if time.monotonic() - self._held_checked < 1.0:
            return
        self._held_checked = time.monotonic()
        with contextlib.suppress(psycopg.OperationalError):
            for worker_id, count in self.conn.execute(
                    "select locked_by, count(*) from pgrun.jobs where state = 'running' group by 1 "
                    "having count(*) > %s", (self.hold_limit,)):
                self.over_held[worker_id] = max(count, self.over_held.get(worker_id, 0))

    def progress(self) -> int:
        """Runs recorded so far (the sequence's last value: cheap, a little ahead after a crash)."""
        return self._query("select coalesce(max(id), 0) from chaos_runs")[0]

    # ---------------------------------------------------------------- phases

    def _setup(self) -> None:
        self.cluster = self._given_cluster or PrivateCluster()
        if self._given_cluster is None:
            self.cluster.start()
        with self.cluster.connect() as admin:
            admin.execute(f"create database {DATABASE}")
        self.reconnect()
        migrate(self.conn, "pgrun")
        self.conn.execute(RUNS_TABLE)
        self.conn.execute("create table chaos_jobs (id bigint primary key)")
        # completed jobs stay, so that the books can be checked against pgrun's own rows
        self.conn.execute("select pgrun.set_retention(interval '1 day', null, null)")
        self._add_jobs(self.jobs)

    def _add_jobs(self, total: int) -> None:
        for first in range(0, total, 10_000):
            self.conn.execute(
                "insert into chaos_jobs select id from pgrun.add_jobs(array(select "
                "row('chaos.run', null, null, null, null, null, null, null, null, null)::pgrun.job_spec "
                "from generate_series(1, %s)))", (min(10_000, total - first),))

    def worker_dsn(self) -> str:
        """The cluster's, or with a standby a multi-host string that finds the primary."""
        if self.standby is None:
            return self.cluster.dsn(DATABASE)
        return (f"host=127.0.0.1,127.0.0.1 port={self.cluster.port},{self.standby.port} user=postgres "
                f"dbname={DATABASE} target_session_attrs=read-write")

    def _start_workers(self) -> None:
        self.pool = Pool(self.worker_dsn(), self.workers, self.concurrency, self.worker_args)

    def _wait_progress(self, target: int) -> None:
        last, last_change = -1, time.monotonic()
        while True:
            self.pool.replace_dead()
            self.check_held()
            done = self.progress()
            if done >= target:
                return
            if done != last:
                last, last_change = done, time.monotonic()
            elif time.monotonic() - last_change > STALL_SECONDS:
                raise Stalled(f"no job ran for {STALL_SECONDS:.0f} s at {done} runs of {self.jobs}")
            time.sleep(0.2)

    def _remaining(self) -> int:
        return self._query("select count(*) from pgrun.jobs where state <> 'completed'")[0]

    def _drain(self) -> None:
        last, last_change = -1, time.monotonic()
        while (left := self._remaining()) > 0:
            self.pool.replace_dead()
            self.check_held()
            if left != last:
                last, last_change = left, time.monotonic()
            elif time.monotonic() - last_change > STALL_SECONDS:
                raise Stalled(f"{left} jobs not completed, none for {STALL_SECONDS:.0f} s")
            time.sleep(0.25)

    def run(self) -> checks.Summary:
        began = time.monotonic()
        try:
            self._setup()
            self.say(f"chaos: {self.jobs} jobs, {self.workers} workers x {self.concurrency}, "
                     f"faults: {', '.join(self.fault_kinds)}")
            started_at = db_now(self.conn)
            self._start_workers()
            count = len(self.fault_kinds)
            for i, kind in enumerate(self.fault_kinds, start=1):
                self._wait_progress(int(self.jobs * FAULTS_UNTIL * i / count))
                fault = KINDS[kind](self, self.rng)
                self.faults.append(fault)
                self.say(f"  fault {i}/{count}: {fault.kind} ({fault.detail})")
            if self.jobs_after:
                self._add_jobs(self.jobs_after)
            self._drain()
            drained_at = db_now(self.conn)
            self.pool.close()
            summary = checks.check(self.conn, self.faults, self.pool, started_at, drained_at)
            summary.wall_seconds = time.monotonic() - began
            summary.over_held = dict(self.over_held)
            return summary
        finally:
            if self.pool is not None:
                self.pool.kill_all()
                if self.log_dir is not None:
                    self.pool.write_logs(self.log_dir)
            with contextlib.suppress(psycopg.Error):
                if self.conn is not None:
                    self.conn.close()
            if self._given_cluster is None and self.cluster is not None:
                self.cluster.close()


def fault_plan(count: int, rng: random.Random) -> list[str]:
    """`count` faults: every kind once (in a random order), then random kinds; no failover
    (a run with a standby asks for it)."""
    kinds = [kind for kind in KINDS if kind != "failover"]
    rng.shuffle(kinds)
    plan = kinds[:count]
    plan += [rng.choice(kinds) for _ in range(count - len(plan))]
    return plan
