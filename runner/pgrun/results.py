"""What became of a job: `get_result`, and `wait_for`, which waits without polling.

    result = utils.wait_for(job.id, timeout=30)
    if result.ok:
        print(result.result)          # what the handler returned
    else:
        print(result.state, result.last_error)

How `wait_for` waits: it LISTENs on "<schema>:finished", registers as a waiter of the job
(SQL `watch_jobs`), reads its result, and if the job has not ended yet sleeps until a
notification names the job (each end of an attempt sends one), then reads it again. At the
end it unregisters (`unwatch_jobs`) and UNLISTENs, whatever happened.

A job is *final* when it is completed, failed or cancelled. `wait_for` returns a final
job's JobResult, whichever state it ended in: check `.ok` (or `.state`). It raises
LookupError when no such job exists, and TimeoutError (WaitTimeout) when the job is still
not final after `timeout` seconds.

Retention: a completed job is removed at once unless retention keeps it, or someone
watches it (then it is kept at least 10 minutes). A job watched only from inside
`wait_for` can therefore complete and vanish before `wait_for` starts watching; it is
then reported as unknown (LookupError). To wait for a job you add, watch it in the
transaction that adds it:

    with conn.transaction():
        job = pgrun.add_job(conn, "report", {...})
        pgrun.watch_jobs(conn, [job.id])
    result = pgrun.wait_for(conn, job.id, timeout=60)
"""

from __future__ import annotations

from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from time import monotonic
from typing import TYPE_CHECKING, Any

from . import queries

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Sequence

    import psycopg

__all__ = ["FINAL_STATES", "JobResult", "WaitTimeout", "get_result", "get_result_async",
           "unwatch_jobs", "unwatch_jobs_async", "wait_for", "wait_for_async", "watch_jobs",
           "watch_jobs_async"]

FINAL_STATES = frozenset({"completed", "failed", "cancelled"})


@dataclass(frozen=True, slots=True)
class JobResult:
    """A job's outcome so far. `result` is what its handler returned (completed jobs);
    `last_error` the last attempt's error; `finished_at` when it reached a final state."""

    state: str
    result: Any
    last_error: str | None
    finished_at: datetime | None

    @property
    def ok(self) -> bool:
        """True when the job completed."""
        return self.state == "completed"

    @property
    def final(self) -> bool:
        """True when the job will not run again: completed, failed or cancelled."""
        return self.state in FINAL_STATES


class WaitTimeout(TimeoutError):
    """The job did not reach a final state in time; `state` is the one it was in."""

    def __init__(self, job_id: int, state: str, timeout: float) -> None:
        super().__init__(f"job {job_id} did not finish within {timeout:g} s (it is {state})")
        self.job_id = job_id
        self.state = state


def _unknown(job_id: int) -> LookupError:
    return LookupError(f"job {job_id} is unknown or already removed (retention: a completed job "
                       "is kept only if retention keeps it or someone watched it before it ended)")


def _result(row: tuple | None) -> JobResult | None:
    return None if row is None else JobResult(*row)


def _check_usable(conn: Any) -> None:
    # LISTEN and watch_jobs take effect only once committed.
    if not conn.autocommit and conn.info.transaction_status.name != "IDLE":
        raise RuntimeError("wait_for needs a connection in autocommit mode or outside a "
                           "transaction: LISTEN and watch_jobs take effect only when committed")


# ------------------------------------------------------------------- sync


def _run(conn: psycopg.Connection, query: str, params: tuple | None = None) -> list:
    """Runs one statement and returns its rows, committing at once on a connection that is
    not in autocommit mode (_check_usable saw it idle)."""
    if conn.autocommit:
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []
    with conn.transaction():
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []


def get_result(conn: psycopg.Connection, job_id: int, *, schema: str = "pgrun") -> JobResult | None:
    """The job's state, result, last error and finish time; None if there is no such job
    (never added, or removed by retention)."""
    rows = _run(conn, queries.for_schema(schema).get_result, (job_id,))
    return _result(rows[0] if rows else None)


def watch_jobs(conn: psycopg.Connection, job_ids: Sequence[int], *, schema: str = "pgrun") -> None:
    """Registers a waiter for these jobs: their ends are notified on "<schema>:finished" and
    they are kept at least 10 minutes after they end. Inside the transaction that adds a
    job, this makes its result readable by a later `wait_for` however fast it runs."""
    conn.execute(queries.for_schema(schema).watch_jobs, (list(job_ids),))


def unwatch_jobs(conn: psycopg.Connection, job_ids: Sequence[int], *, schema: str = "pgrun") -> None:
    """Forgets the waiters of these jobs (every waiter: waiters are not told apart)."""
    conn.execute(queries.for_schema(schema).unwatch_jobs, (list(job_ids),))


@contextmanager
def _watching(conn: psycopg.Connection, job_id: int, q: queries.Queries) -> Iterator[None]:
    _run(conn, q.listen_finished)
    try:
        _run(conn, q.watch_jobs, ([job_id],))
        yield
    finally:
        if not conn.closed and not conn.broken:
            try:
                _run(conn, q.unwatch_jobs, ([job_id],))
            finally:
                _run(conn, q.unlisten_finished)


def wait_for(conn: psycopg.Connection, job_id: int, timeout: float | None = None, *,
             schema: str = "pgrun") -> JobResult:
    """Waits until the job is completed, failed or cancelled and returns its JobResult
    (check `.ok`). Raises LookupError for an unknown job and WaitTimeout (a TimeoutError)
    when `timeout` seconds (None: no limit) pass first. Sleeps on LISTEN, never polls.
    Holds `conn` while it waits."""
    _check_usable(conn)
    q = queries.for_schema(schema)
    deadline = None if timeout is None else monotonic() + timeout
    channel, wanted = f"{schema}:finished", str(job_id)
    with _watching(conn, job_id, q):
        result = get_result(conn, job_id, schema=schema)
        while result is not None and not result.final:
            remaining = None if deadline is None else max(0.0, deadline - monotonic())
            if remaining == 0.0:
                break
            notifies = conn.notifies(timeout=remaining)
            try:
                heard = any(n.channel == channel and n.payload == wanted for n in notifies)
            finally:
                notifies.close()  # it holds the connection's lock
            result = get_result(conn, job_id, schema=schema)
            if not heard:
                break  # timed out; the read above still counts (a notification may be lost)
    if result is None:
        raise _unknown(job_id)
    if not result.final:
        raise WaitTimeout(job_id, result.state, timeout or 0.0)
    return result


# ------------------------------------------------------------------ async


async def _run_async(conn: psycopg.AsyncConnection, query: str, params: tuple | None = None) -> list:
    if conn.autocommit:
        cursor = await conn.execute(query, params)
        return await cursor.fetchall() if cursor.description else []
    async with conn.transaction():
        cursor = await conn.execute(query, params)
        return await cursor.fetchall() if cursor.description else []


async def get_result_async(conn: psycopg.AsyncConnection, job_id: int, *,
                           schema: str = "pgrun") -> JobResult | None:
    """`get_result` on an async connection."""
    rows = await _run_async(conn, queries.for_schema(schema).get_result, (job_id,))
    return _result(rows[0] if rows else None)


async def watch_jobs_async(conn: psycopg.AsyncConnection, job_ids: Sequence[int], *,
                           schema: str = "pgrun") -> None:
    """`watch_jobs` on an async connection."""
    await conn.execute(queries.for_schema(schema).watch_jobs, (list(job_ids),))


async def unwatch_jobs_async(conn: psycopg.AsyncConnection, job_ids: Sequence[int], *,
                             schema: str = "pgrun") -> None:
    """`unwatch_jobs` on an async connection."""
    await conn.execute(queries.for_schema(schema).unwatch_jobs, (list(job_ids),))


@asynccontextmanager
async def _watching_async(conn: psycopg.AsyncConnection, job_id: int,
                          q: queries.Queries) -> AsyncIterator[None]:
    await _run_async(conn, q.listen_finished)
    try:
        await _run_async(conn, q.watch_jobs, ([job_id],))
        yield
    finally:
        if not conn.closed and not conn.broken:
            try:
                await _run_async(conn, q.unwatch_jobs, ([job_id],))
            finally:
                await _run_async(conn, q.unlisten_finished)


async def wait_for_async(conn: psycopg.AsyncConnection, job_id: int, timeout: float | None = None,
                         *, schema: str = "pgrun") -> JobResult:
    """`wait_for` on an async connection (which it holds while it waits)."""
    _check_usable(conn)
    q = queries.for_schema(schema)
    deadline = None if timeout is None else monotonic() + timeout
    channel, wanted = f"{schema}:finished", str(job_id)
    async with _watching_async(conn, job_id, q):
        result = await get_result_async(conn, job_id, schema=schema)
        while result is not None and not result.final:
            remaining = None if deadline is None else max(0.0, deadline - monotonic())
            if remaining == 0.0:
                break
            heard = False
            notifies = conn.notifies(timeout=remaining)
            try:
                async for n in notifies:
                    if n.channel == channel and n.payload == wanted:
                        heard = True
                        break
            finally:
                await notifies.aclose()
            result = await get_result_async(conn, job_id, schema=schema)
            if not heard:
                break
    if result is None:
        raise _unknown(job_id)
    if not result.final:
        raise WaitTimeout(job_id, result.state, timeout or 0.0)
    return result
