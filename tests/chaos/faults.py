"""The faults the chaos driver injects, each one a function of the run's state that
returns what it did. Worker processes are support.WorkerProcess (real `pgrun`
processes); the server is a chaos.cluster.PrivateCluster."""

from __future__ import annotations

import contextlib
import random
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from support import WorkerProcess, wait_until

TASKS = "tasks.chaos"
READY = re.compile(r"worker (\S+) ready: ")
EXHAUST_SECONDS = 4.0   # how long every connection slot stays taken
STOP_SECONDS = 60.0     # a worker sent SIGTERM exits within its shutdown timeout (10 s) and a bit


@dataclass
class Fault:
    kind: str
    started: float            # database epoch seconds
    ended: float = 0.0
    detail: str = ""
    killed_pid: int | None = None
    held: list[tuple[int, int]] = field(default_factory=list)   # (job id, attempt) cut by a kill


class Pool:
    """The worker processes of a run: started, killed, stopped and restarted."""

    def __init__(self, dsn: str, size: int, concurrency: int, extra_args: tuple[str, ...] = ()) -> None:
        self.dsn = dsn
        self.args = ["--tasks", TASKS, "--concurrency", str(concurrency), *extra_args]
        self.live: list[WorkerProcess] = []
        self.gone: list[WorkerProcess] = []
        self.killed_pids: set[int] = set()
        self.unexpected: list[str] = []       # output tails of workers that died on their own
        self.sigterm_codes: list[int] = []
        self.hung: list[str] = []             # output tails of workers SIGTERM did not stop
        for _ in range(size):
            self.start()

    def start(self) -> WorkerProcess:
        worker = WorkerProcess(self.args, self.dsn, env={"PYTHONFAULTHANDLER": "1"})
        worker.wait_ready(timeout=60)
        self.live.append(worker)
        return worker

    @staticmethod
    def worker_id(worker: WorkerProcess) -> str:
        for line in worker.lines:
            match = READY.search(line)
            if match:
                return match.group(1)
        raise AssertionError(f"no ready line in:\n{worker.output}")

    def replace_dead(self) -> None:
        """Workers that exited although nobody stopped them are noted and replaced."""
        for worker in [w for w in self.live if w.proc.poll() is not None]:
            self.live.remove(worker)
            self.gone.append(worker)
            self.unexpected.append(f"exit {worker.proc.returncode}:\n" + "\n".join(worker.lines[-15:]))
            self.start()

    def wait_stopped(self, worker: WorkerProcess) -> int:
        """The exit code of a worker sent SIGTERM. One still running after STOP_SECONDS is a
        finding: its Python stacks are dumped (SIGABRT, faulthandler) into `hung`, then it is
        killed."""
        try:
            code = worker.wait(STOP_SECONDS)
        except AssertionError:
            worker.signal(signal.SIGABRT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.proc.wait(10)
            worker.stop()
            self.hung.append("\n".join(worker.lines[-120:]))
            code = -signal.SIGABRT
        self.sigterm_codes.append(code)
        return code

    def close(self) -> None:
        for worker in self.live:
            worker.signal(signal.SIGTERM)
        for worker in self.live:
            self.wait_stopped(worker)
        self.gone.extend(self.live)
        self.live = []

    def write_logs(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for worker in self.live + self.gone:
            (directory / f"worker-{worker.pid}.log").write_text(worker.output + "\n")

    def kill_all(self) -> None:
        for worker in self.live + self.gone:
            worker.stop()


def db_now(conn: psycopg.Connection) -> float:
    return conn.execute("select extract(epoch from clock_timestamp())::float8").fetchone()[0]


def sigkill(run, rng: random.Random) -> Fault:
    worker = rng.choice(run.pool.live)
    wid = Pool.worker_id(worker)
    fault = Fault("SIGKILL worker", db_now(run.conn), killed_pid=worker.pid)
    worker.signal(signal.SIGKILL)
    worker.wait(10)
    run.pool.killed_pids.add(worker.pid)
    run.pool.live.remove(worker)
    run.pool.gone.append(worker)
    fault.held = [tuple(r) for r in run.conn.execute(
        "select id, attempts from pgrun.jobs where locked_by = %s and state = 'running'", (wid,))]
    fault.ended = db_now(run.conn)
    run.pool.start()
    fault.detail = f"pid {worker.pid}, held {len(fault.held)} jobs"
    return fault


def sigterm(run, rng: random.Random) -> Fault:
    worker = rng.choice(run.pool.live)
    fault = Fault("SIGTERM worker", db_now(run.conn))
    worker.signal(signal.SIGTERM)
    code = run.pool.wait_stopped(worker)
    run.pool.live.remove(worker)
    run.pool.gone.append(worker)
    fault.ended = db_now(run.conn)
    run.pool.start()
    fault.detail = f"pid {worker.pid}, exit {code}"
    return fault


def _cut_workers(run) -> int:
    """Terminates every client backend of the run's database but the driver's; waits until
    they are gone. Returns how many there were."""
    pids = [r[0] for r in run.conn.execute(
        "select pid from pg_stat_activity where datname = current_database() "
        "and pid <> pg_backend_pid() and backend_type = 'client backend'")]
    for pid in pids:
        run.conn.execute("select pg_terminate_backend(%s)", (pid,))
    wait_until(lambda: not run.conn.execute("select count(*) from pg_stat_activity where pid = any(%s)",
                                            (pids,)).fetchone()[0], 10, 0.005, "the backends to end")
    return len(pids)


def _worker_backends(run) -> int:
    return run.conn.execute("select count(*) from pg_stat_activity where datname = current_database() "
                            "and backend_type = 'client backend' and pid <> pg_backend_pid()").fetchone()[0]


def terminate_backends(run, rng: random.Random) -> Fault:
    fault = Fault("pg_terminate_backend", db_now(run.conn))
    fault.detail = f"{_cut_workers(run)} backends"
    fault.ended = db_now(run.conn)
    return fault


def exhaust_connections(run, rng: random.Random) -> Fault:
    """Takes every connection slot, then cuts the workers' connections and takes their slots
    too: for EXHAUST_SECONDS nobody can connect, and the workers have nothing open."""
    fault = Fault("connections exhausted", db_now(run.conn))
    hogs: list[psycopg.Connection] = []

    def fill() -> None:   # eight at a time, to win the race against the workers' reconnects
        def grab() -> None:
            while len(hogs) < 500:
                try:
                    hogs.append(psycopg.connect(run.cluster.dsn("postgres"), connect_timeout=5,
                                                application_name="chaos hog"))
                except psycopg.OperationalError:
                    return
        threads = [threading.Thread(target=grab) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    try:
        fill()
        cut = 0
        for _ in range(20):   # the hogs keep what they take: a few rounds leave the workers nothing
            cut += _cut_workers(run)
            fill()
            if not _worker_backends(run):
                break
        # The exhaustion itself lasts a fixed time: nothing to wait for.
        time.sleep(EXHAUST_SECONDS)
        kept = _worker_backends(run)
    finally:
        for hog in hogs:
            with contextlib.suppress(psycopg.Error):
                hog.close()
    fault.ended = db_now(run.conn)
    fault.detail = (f"{len(hogs)} slots taken for {EXHAUST_SECONDS:.0f} s after cutting {cut} "
                    f"backends; the workers held {kept}")
    return fault


def _restart(run, mode: str) -> Fault:
    fault = Fault(f"pg_ctl restart -m {mode}", db_now(run.conn))
    began = time.monotonic()
    run.cluster.restart(mode)
    run.reconnect()
    fault.ended = db_now(run.conn)
    fault.detail = f"down {time.monotonic() - began:.1f} s"
    return fault


def restart_fast(run, rng: random.Random) -> Fault:
    return _restart(run, "fast")


def restart_immediate(run, rng: random.Random) -> Fault:
    return _restart(run, "immediate")


def failover(run, rng: random.Random) -> Fault:
    """The primary crashes (immediate stop) and the standby is promoted; workers have a
    multi-host connection string and must find the new primary by themselves."""
    if run.standby is None:
        raise ValueError("the failover fault needs a run with a standby, and happens once")
    fault = Fault("failover", db_now(run.conn))
    began = time.monotonic()
    run.cluster.stop("immediate")
    run.standby.promote()
    run.cluster, run.standby = run.standby, None
    run.reconnect()
    fault.ended = db_now(run.conn)
    fault.detail = f"primary killed, standby promoted in {time.monotonic() - began:.1f} s"
    return fault


KINDS = {
    "sigkill": sigkill,
    "sigterm": sigterm,
    "terminate": terminate_backends,
    "exhaust": exhaust_connections,
    "restart-fast": restart_fast,
    "restart-immediate": restart_immediate,
    "failover": failover,
}
