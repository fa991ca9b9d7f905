"""Control: pause and resume a queue or a task, run failed or cancelled jobs again, and ask
why a job is not running (SQL pause_queue, resume_queue, pause_task, resume_task,
retry_jobs, explain_job). WorkerUtils and AsyncWorkerUtils offer each as a method:

    with WorkerUtils("postgresql://...") as utils:
        utils.pause_queue("emails")           # waiting jobs stay; running ones finish
        print(utils.explain_job(42).reason)   # "available, but its queue emails is paused ..."
        utils.resume_queue("emails")          # idle workers wake at once
        utils.retry_jobs([42, 43])            # failed/cancelled: attempts reset, run now

Each pause or resume returns whether it changed something (calling it twice is harmless).
Every one of them is recorded in the audit log (SQL view `audit_log`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import psycopg

    from .queries import Queries

__all__ = ["Explanation", "explain_job", "explain_job_async", "set_paused", "set_paused_async"]

Kind = Literal["queue", "task"]


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a job is not running now: its `state`, a sentence (`reason`), and until when that
    holds if the database knows (`until`: run_at of a scheduled or retryable job, the end of
    a running job's lease, when retention removes a final job; else None)."""

    state: str
    reason: str
    until: datetime | None

    def __str__(self) -> str:
        return self.reason


def _paused_query(queries: Queries, kind: Kind, paused: bool) -> str:
    if kind not in ("queue", "task"):
        raise ValueError(f"kind must be 'queue' or 'task' (got {kind!r})")
    return getattr(queries, f"{'pause' if paused else 'resume'}_{kind}")


def set_paused(conn: psycopg.Connection, queries: Queries, kind: Kind, name: str, paused: bool) -> bool:
    """pause_queue/resume_queue/pause_task/resume_task on `conn`; True if something changed."""
    return bool(conn.execute(_paused_query(queries, kind, paused), (name,)).fetchone()[0])


async def set_paused_async(conn: psycopg.AsyncConnection, queries: Queries, kind: Kind, name: str,
                           paused: bool) -> bool:
    cursor = await conn.execute(_paused_query(queries, kind, paused), (name,))
    return bool((await cursor.fetchone())[0])


def explain_job(conn: psycopg.Connection, queries: Queries, job_id: int) -> Explanation:
    """SQL explain_job; an unknown id raises the database's error (SQLSTATE P0002)."""
    return Explanation(*conn.execute(queries.explain_job, (job_id,)).fetchone())


async def explain_job_async(conn: psycopg.AsyncConnection, queries: Queries, job_id: int) -> Explanation:
    cursor = await conn.execute(queries.explain_job, (job_id,))
    return Explanation(*await cursor.fetchone())
