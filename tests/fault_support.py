"""Helpers shared by the fault regression tests (tests/test_fault_*.py): embedded
workers with short leases, sessions that hold locks, waits on the database from
async code, bulk jobs, plans and notifications."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

import pgrun
from support import scalar, wait_until

T = TypeVar("T")

# Embedded workers beat every 0.5 s and are presumed dead after 2 s without a beat.
FAST_LEASE = {"heartbeat_interval": 0.5, "heartbeat_timeout": 2.0}


async def db_wait(check: Callable[[], T], timeout: float = 10.0, message: str = "condition",
                  interval: float = 0.05) -> T:
    """support.wait_until from async code: the check runs in a thread, the loop goes on."""
    return await asyncio.to_thread(wait_until, check, timeout, interval, message)


@contextlib.asynccontextmanager
async def embedded(tasks, dsn: str, **options: Any):
    """A worker embedded with pgrun.run_async (short lease unless given), stopped at the end."""
    worker = await pgrun.run_async(tasks, connection=dsn, **{**FAST_LEASE, **options})
    try:
        yield worker
    finally:
        if not worker._stopped.is_set():
            await worker.stop()


@contextlib.contextmanager
def holding(dsn: str, statement: str, params: Any = None):
    """A session that runs `statement` in a transaction and keeps it open (its locks held)
    until the block ends; then it rolls back. Yields the connection (commit() to keep)."""
    conn = psycopg.connect(dsn, application_name="fault test: holder")
    try:
        conn.execute(statement, params)
        yield conn
    finally:
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
        conn.close()


def backends(conn: psycopg.Connection, application_name: str) -> list[int]:
    """Pids of this database's backends with that application_name."""
    return [r[0] for r in conn.execute(
        "select pid from pg_stat_activity where datname = current_database() and application_name = %s "
        "and pid <> pg_backend_pid()", (application_name,)).fetchall()]


def terminate(conn: psycopg.Connection, application_name: str, timeout: float = 5.0) -> int:
    """Terminates those backends and waits until they are gone; returns how many there were."""
    pids = backends(conn, application_name)
    for pid in pids:
        conn.execute("select pg_terminate_backend(%s)", (pid,))
    wait_until(lambda: not set(pids) & set(backends(conn, application_name)), timeout, 0.005,
               f"the {application_name!r} backends to end")
    return len(pids)


def add_job(conn: psycopg.Connection, task: str, payload: dict | None = None, **options: Any) -> dict:
    """pgrun.add_job in SQL; returns the job row as a dict. Options: queue_name, run_at (SQL text),
    max_attempts, job_key, priority."""
    names = ["identifier => %(task)s", "payload => %(payload)s::json"]
    values: dict[str, Any] = {"task": task, "payload": json.dumps(payload or {})}
    for name, value in options.items():
        if value is None:
            continue
        cast = {"run_at": "timestamptz", "max_attempts": "int", "priority": "int"}.get(name, "text")
        names.append(f"{name} => %({name})s::{cast}")
        values[name] = value
    cursor = conn.execute(f"select * from pgrun.add_job({', '.join(names)})", values)
    row = cursor.fetchone()
    return dict(zip([c.name for c in cursor.description], row, strict=True))


def add_many(conn: psycopg.Connection, count: int, task: str, *, priority: int = 0,
             run_at: str = "now()", queue: str | None = None, max_attempts: int = 25) -> None:
    """`count` jobs in one add_jobs call; `queue` may contain {n} for one queue per job."""
    queue_sql = "null" if queue is None else "format(%(queue)s, n)"
    conn.execute(
        "select count(*) from pgrun.add_jobs(array(select row(%(task)s, null, "
        f"{queue_sql}, {run_at}, %(max_attempts)s, null, %(priority)s, null, null, null)::pgrun.job_spec "
        "from generate_series(1, %(count)s) as n))",
        {"task": task, "queue": None if queue is None else queue.replace("{n}", "%s"),
         "max_attempts": max_attempts, "priority": priority, "count": count})


def db_seconds_between(conn: psycopg.Connection, later, earlier) -> float:
    return scalar(conn, "select extract(epoch from %s::timestamptz - %s::timestamptz)::float8",
                  (later, earlier))


def explain(conn: psycopg.Connection, statement: str, params: Any = None) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) of a statement: its top plan node."""
    plan = scalar(conn, f"explain (analyze, buffers, format json) {statement}", params)
    return plan[0]["Plan"]


def buffers(node: dict) -> int:
    """Shared buffers a plan node touched (hit or read), nested statements of functions included."""
    return node["Shared Hit Blocks"] + node["Shared Read Blocks"]


def nested_plans(conn: psycopg.Connection, statement: str, params: Any = None) -> list[str]:
    """The plans of every statement run inside `statement` (functions' own queries), from
    auto_explain sent to this client as notices. Needs a superuser (LOAD)."""
    seen: list[str] = []
    handler = lambda diag: seen.append(diag.message_primary or "")  # noqa: E731
    conn.add_notice_handler(handler)
    try:
        conn.execute("load 'auto_explain'")
        for setting, value in (("log_min_duration", "0"), ("log_nested_statements", "on"),
                               ("log_analyze", "on"), ("log_level", "notice")):
            conn.execute(f"set auto_explain.{setting} = {value}")
        conn.execute(statement, params).fetchall()
        conn.execute("set auto_explain.log_min_duration = -1")
    finally:
        conn.remove_notice_handler(handler)
    return [message for message in seen if "Query Text" in message or "Plan" in message]


def notifications(conn: psycopg.Connection, quiet: float = 0.3, limit: float = 10.0) -> list[str]:
    """Payloads of the notifications a LISTENing autocommit connection has received,
    read until none came for `quiet` seconds (at most `limit` seconds)."""
    got: list[str] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        batch = [n.payload for n in conn.notifies(timeout=quiet, stop_after=None)]
        got.extend(batch)
        if not batch:
            break
    return got
