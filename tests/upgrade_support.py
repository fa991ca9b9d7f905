"""Helpers for tests/test_upgrade.py: the released schema-1 pgrun (the wheel in
tests/fixtures, see its README), unpacked and run as real processes beside the
new code, and snapshots of a database to compare before and after."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import psycopg
from psycopg import sql

TESTS_DIR = Path(__file__).resolve().parent
OLD_WHEEL = TESTS_DIR / "fixtures" / "pgrun-0.1.0-py3-none-any.whl"


def unpack_old_pgrun(dest: Path) -> Path:
    """Unzips the schema-1 wheel into `dest`; returns the folder to put on PYTHONPATH."""
    with zipfile.ZipFile(OLD_WHEEL) as wheel:
        wheel.extractall(dest)
    migrations = sorted(p.name for p in (dest / "pgrun" / "sql" / "migrations").glob("*.sql"))
    assert migrations == ["0001_initial.sql", "0002_cron.sql"], migrations
    return dest


def old_env(old_root: Path, dsn: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of an old pgrun process: its code first on the path, no PGRUN_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGRUN_")}
    env.update({"PYTHONPATH": str(old_root), "DATABASE_URL": dsn, "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


def run_old(old_root: Path, dsn: str, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """`python -m pgrun.cli ARGS` of the old code, to the end."""
    return subprocess.run([sys.executable, "-m", "pgrun.cli", *args], cwd=TESTS_DIR,
                          env=old_env(old_root, dsn), capture_output=True, text=True, timeout=timeout)


def old_python(old_root: Path, dsn: str, code: str) -> str:
    """Runs `python -c CODE` as the old code sees the world; returns its stdout."""
    done = subprocess.run([sys.executable, "-c", code], cwd=TESTS_DIR, env=old_env(old_root, dsn),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


class OldWorker:
    """An old `pgrun --tasks ...` worker process; its output is read into `lines` as it comes."""

    def __init__(self, old_root: Path, dsn: str, args: list[str], env: dict[str, str] | None = None) -> None:
        self.args = [sys.executable, "-m", "pgrun.cli", *args]
        self.proc = subprocess.Popen(self.args, cwd=TESTS_DIR, env=old_env(old_root, dsn, env),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines: list[str] = []
        self._new: queue.Queue[None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self._new.put(None)
        self._new.put(None)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            for line in list(self.lines):
                if text in line:
                    return line
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._reader.is_alive():
                if not self._reader.is_alive():  # a last look: the reader may have just ended
                    for line in list(self.lines):
                        if text in line:
                            return line
                raise AssertionError(f"no line containing {text!r} within {timeout} s "
                                     f"(exit code {self.proc.poll()}); output:\n{self.output}")
            try:
                self._new.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                pass

    def wait(self, timeout: float) -> int:
        """The exit code; fails if the process is still running after `timeout` seconds."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"old worker still running after {timeout} s; "
                                 f"output:\n{self.output}") from None
        self._reader.join(5)
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(5)
        if self.proc.stdout is not None and not self._reader.is_alive():
            self.proc.stdout.close()


def database_snapshot(conn: psycopg.Connection, schema: str = "pgrun") -> dict[str, object]:
    """Everything of `schema` that a migration could change: the rows of every table
    (as text, in a fixed order), sequences, and the catalog's columns, constraints,
    indexes, table options, functions (with their bodies), views and privileges."""
    snap: dict[str, object] = {}
    tables = [r[0] for r in conn.execute(
        "select c.relname from pg_class as c join pg_namespace as n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind in ('r', 'p') order by 1", (schema,))]
    for table in tables:
        rows = conn.execute(
            sql.SQL("select t::text from {}.{} as t order by 1").format(
                sql.Identifier(schema), sql.Identifier(table))).fetchall()
        snap[f"rows {table}"] = [r[0] for r in rows]
    catalog = {
        "columns": "select table_name, column_name, data_type, column_default, is_nullable "
                   "from information_schema.columns where table_schema = %(s)s order by 1, 2",
        "constraints": "select conrelid::regclass::text, conname, pg_get_constraintdef(c.oid) "
                       "from pg_constraint as c join pg_namespace as n on n.oid = c.connamespace "
                       "where n.nspname = %(s)s order by 1, 2",
        "indexes": "select tablename, indexname, indexdef from pg_indexes where schemaname = %(s)s "
                   "order by 1, 2",
        "relations": "select c.relname, c.relkind, c.reloptions::text, c.relacl::text from pg_class as c "
                     "join pg_namespace as n on n.oid = c.relnamespace where n.nspname = %(s)s order by 1",
        "functions": "select p.oid::regprocedure::text, md5(pg_get_functiondef(p.oid)), p.proacl::text "
                     "from pg_proc as p join pg_namespace as n on n.oid = p.pronamespace "
                     "where n.nspname = %(s)s order by 1",
        "views": "select viewname, definition from pg_views where schemaname = %(s)s order by 1",
        "types": "select t.typname from pg_type as t join pg_namespace as n on n.oid = t.typnamespace "
                 "where n.nspname = %(s)s order by 1",
    }
    for name, query in catalog.items():
        snap[name] = conn.execute(query, {"s": schema}).fetchall()
    for (sequence,) in conn.execute(
            "select sequencename from pg_sequences where schemaname = %s order by 1", (schema,)).fetchall():
        snap[f"sequence {sequence}"] = conn.execute(
            sql.SQL("select last_value, is_called from {}.{}").format(
                sql.Identifier(schema), sql.Identifier(sequence))).fetchone()
    return snap
