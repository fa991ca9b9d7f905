"""Helpers for the cron tests: a clock that tests move by hand, a pool, and a
look at the jobs the scheduler enqueued."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg_pool import AsyncConnectionPool

UTC = timezone.utc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class FakeClock:
    """now() is whatever the test says; sleep() moves time on at once."""

    def __init__(self, start: datetime) -> None:
        self.current = start
        self.sleeps: list[float] = []
        self.on_sleep = None  # optional callback after each sleep

    def now(self) -> datetime:
        return self.current

    def set(self, moment: datetime) -> None:
        self.current = moment

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.current += timedelta(seconds=seconds)
        if self.on_sleep is not None:
            self.on_sleep(self)
        await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def open_pool(dsn: str, size: int = 2):
    pool = AsyncConnectionPool(dsn, open=False, min_size=1, max_size=size)
    await pool.open(wait=True)
    try:
        yield pool
    finally:
        await pool.close()


def cron_jobs(conn: psycopg.Connection) -> list[tuple[str, str, bool]]:
    """(task, _cron.ts, _cron.backfilled) of every job, oldest tick first."""
    rows = conn.execute(
        "select task_identifier, payload->'_cron'->>'ts', (payload->'_cron'->>'backfilled')::boolean"
        " from pgrun.jobs order by run_at, task_identifier, id").fetchall()
    return [tuple(row) for row in rows]


def iso(moment: datetime) -> str:
    """A tick as _cron.ts writes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
