"""The worker's lease on its jobs: register, beat, and learn when it is gone.

A worker holds its jobs only while its row is alive: each heartbeat renews the
lease on all of them at once (one row), on a connection of its own, so that
handlers using every pooled connection cannot delay it. The same statement
reaps workers whose leases ran out; the database refuses to let a worker reap
until its own beats have run unbroken for a full timeout, so after an outage
nobody is declared dead before it could come back.

The lease is known to be live until `timeout` after the *sending* of the last
beat that succeeded: the database recorded that beat later than we sent it,
so nobody can have reaped us before then. `live` says so, and the fetcher
claims only while it is true (the database checks too).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from . import db
from .backoff import Backoff
from .errors import ConnectionFailed, PgrunError
from .fmt import reason
from .queries import Queries

log = logging.getLogger("pgrun.worker")

RETRYABLE = (*db.CONNECTION_ERRORS, ConnectionFailed)
REAPED = "PGR01"      # presumed dead (or force-unlocked) by someone: the jobs were released
NO_LEASE = "PGR02"    # not registered, or the lease expired
UPGRADED = "PGR03"    # the schema was upgraded under this worker's protocol


class LeaseLost(PgrunError):
    """this worker's lease is gone; its jobs were released and may run elsewhere"""


class Lease:
    def __init__(self, *, conninfo: str, queries: Queries, worker_id: str, info: dict,
                 interval: float, timeout: float, prepare: bool,
                 on_lost: Callable[[str], Awaitable[None]],
                 on_rescue: Callable[[str, int], None]) -> None:
        self.worker_id = worker_id
        self._conninfo = conninfo
        self._q = queries
        self._info = info
        self._interval = interval
        self._timeout = timeout
        self._prepare = prepare
        self._on_lost = on_lost
        self._on_rescue = on_rescue
        self._conn: db.AsyncConnection | None = None
        self._valid_until = 0.0          # monotonic; the lease is surely live before this
        self._beat_now = asyncio.Event()
        self._renewed = asyncio.Event()  # set after every successful beat

    @property
    def live(self) -> bool:
        return time.monotonic() < self._valid_until

    @property
    def connection(self) -> db.AsyncConnection | None:
        """The heartbeat's own connection, while it has one."""
        return self._conn

    @property
    def remaining(self) -> float:
        return self._valid_until - time.monotonic()

    async def connect(self) -> None:
        """Opens the heartbeat's connection (before register, while the schema is checked)."""
        await self._connection()

    async def register(self, worker_id: str | None = None) -> None:
        """Registers (again, under a new id after a lost lease); raises what the user must see."""
        if worker_id is not None:
            self.worker_id = worker_id
        conn = await self._connection()
        sent = time.monotonic()
        info = db.Jsonb({**self._info, "host": socket.gethostname(), "pid": os.getpid()})
        await conn.execute(self._q.register, (self.worker_id, info, timedelta(seconds=self._interval),
                                              timedelta(seconds=self._timeout)))
        self._valid_until = sent + self._timeout

    def beat_soon(self) -> None:
        """Beat now rather than at the next interval (a claim was refused for want of a lease)."""
        self._beat_now.set()

    async def wait_renewed(self, timeout: float) -> bool:
        self._renewed.clear()
        self.beat_soon()
        try:
            await asyncio.wait_for(self._renewed.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def run(self) -> None:
        backoff = Backoff(min(0.25, self._interval), self._interval)
        delay = self._interval
        try:
            while True:
                try:
                    await asyncio.wait_for(self._beat_now.wait(), delay)
                except asyncio.TimeoutError:
                    pass
                self._beat_now.clear()
                try:
                    await self._beat()
                except RETRYABLE as error:
                    await self._close()
                    delay = backoff.next()
                    left = self.remaining
                    log.warning("heartbeat failed (%s); trying again in %.1f s (lease %s)", reason(error),
                                delay, f"live for {left:.0f} s more" if left > 0 else "may have expired")
                    continue
                except db.DatabaseError as error:
                    if db.sqlstate(error) in (REAPED, NO_LEASE):
                        await self._on_lost(reason(error))
                    elif db.sqlstate(error) == UPGRADED:
                        raise
                    else:  # a bug or a surprise: say it, keep beating
                        log.error("heartbeat failed (%s); trying again in %.1f s", reason(error),
                                  self._interval, exc_info=error)
                    delay = self._interval
                    continue
                backoff.reset()
                delay = self._interval
        finally:
            await self._close()

    async def _beat(self) -> None:
        conn = await self._connection()
        sent = time.monotonic()
        cursor = await conn.execute(self._q.heartbeat, (self.worker_id,), prepare=self._prepare)
        rows = await cursor.fetchall()
        self._valid_until = sent + self._timeout
        self._renewed.set()
        for dead, released in rows:
            self._on_rescue(dead, released)

    async def _connection(self) -> db.AsyncConnection:
        if self._conn is None or self._conn.closed:
            # A beat must fail fast rather than wait: a quarter of the timeout at most.
            timeout = f"{max(1, int(self._timeout / 4))}s"
            self._conn = await db.connect_async(self._conninfo, **db.connection_kwargs(
                self._prepare, conninfo=self._conninfo, statement_timeout=timeout, lock_timeout=timeout,
                application_name="pgrun heartbeat"))
        return self._conn

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            try:
                await conn.close()
            except Exception:
                pass

    async def close(self) -> None:
        await self._close()
