"""Helpers for tests that run real `pgrun` processes: start them, read their
output for a line, wait on the database with a deadline (never a bare sleep)."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psycopg

from pgrun import sql_files

TESTS_DIR = Path(__file__).resolve().parent
T = TypeVar("T")


def pgrun_command() -> list[str]:
    """The installed `pgrun` entry point next to this Python, else `python -m pgrun.cli`."""
    script = Path(sys.executable).with_name("pgrun")
    if script.exists():
        return [str(script)]
    found = shutil.which("pgrun")
    return [found] if found else [sys.executable, "-m", "pgrun.cli"]


def wait_until(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.05,
               message: str = "condition") -> T:
    """Calls `check` until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def latest_version() -> int:
    """The schema version this checkout's migrations reach."""
    return sql_files.load_migrations()[-1].number


def cli(*args: str) -> tuple[int, str, str]:
    """Runs the `pgrun` command in this process: (exit code, stdout, stderr)."""
    from click.testing import CliRunner

    from pgrun.cli import main

    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def assert_usage_error(code: int, err: str, starts: str) -> None:
    """Bad input: exit 2 and one line on stderr that starts so."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(starts), lines[0]


def scalar(conn: psycopg.Connection, query: str, params: Any = None) -> Any:
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None


RESULTS_TABLE = """
create table if not exists pgrun_test_results (
  id bigserial primary key,
  job_id bigint,
  task text,
  attempt int,
  note text,
  at timestamptz default clock_timestamp()
)
"""


class WorkerProcess:
    """A `pgrun` process; its stdout and stderr are read into `lines` as they come."""

    def __init__(self, args: list[str], dsn: str, cwd: Path = TESTS_DIR,
                 env: dict[str, str] | None = None) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("PGRUN_")}
        full_env.update({"DATABASE_URL": dsn, "PYTHONUNBUFFERED": "1"})
        full_env.update(env or {})
        self.args = [*pgrun_command(), *args]
        self.proc = subprocess.Popen(self.args, cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines: list[str] = []
        self._new: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self._new.put(line)
        self._new.put(None)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_for_line(self, text: str, timeout: float = 15.0, after: int = 0) -> str:
        """The first output line (from index `after`) containing `text`."""
        deadline = time.monotonic() + timeout
        seen = after
        while True:
            for line in self.lines[seen:]:
                if text in line:
                    return line
            seen = max(seen, len(self.lines))
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.proc.poll() is not None and self._new.empty()
                                  and not self._reader.is_alive()):
                raise AssertionError(f"no line containing {text!r} within {timeout} s "
                                     f"(exit code {self.proc.poll()}); output:\n{self.output}")
            try:
                self._new.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                pass

    def wait_ready(self, timeout: float = 20.0) -> None:
        self.wait_for_line(" ready: ", timeout)

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"pgrun still running after {timeout} s; output:\n{self.output}") from None
        self._close_pipe()
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close_pipe()

    def _close_pipe(self) -> None:
        self._reader.join(5)
        if self.proc.stdout is not None and not self._reader.is_alive():
            self.proc.stdout.close()


class Workers:
    """Starts `pgrun` processes for one test and kills whatever is left at the end."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.started: list[WorkerProcess] = []

    def start(self, *args: str, ready: bool = True, env: dict[str, str] | None = None) -> WorkerProcess:
        worker = WorkerProcess(list(args), self.dsn, env=env)
        self.started.append(worker)
        if ready:
            worker.wait_ready()
        return worker

    def close(self) -> None:
        for worker in self.started:
            worker.stop()
