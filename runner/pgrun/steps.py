"""Durable steps inside one job, its parents' results, and sleeping without holding a slot.

    async def checkout(payload, helpers):
        parents = await helpers.parent_results()          # {parent job id: what it returned}
        charge = await helpers.step("charge", payments.charge, payload["order"])
        await helpers.sleep_until(charge_settles_at(charge))
        await helpers.step("ship", shipping.ship, payload["order"])

`step(name, fn, *args, **kwargs)` runs `fn` unless this job already recorded a step of that
name (in SQL, record_job_step), and returns what was recorded: a retried attempt skips the steps
that completed and gets their results back. Results travel as JSON, on the first run too, so
both paths see the same values (a datetime comes back as its ISO text). A step runs at least
once: one that completes but whose record is lost with its worker runs again.

`sleep_until(t)` ends the attempt (a snooze: no attempt used up, no worker slot held) when t
is ahead, and returns at once when it is not: the resumed attempt passes straight through, so
t must be the same on every attempt (from the payload, or from a step's result).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import payloads
from .errors import PgrunError, Snooze

if TYPE_CHECKING:
    import psycopg

    from .job import Job
    from .queries import Queries


class StepNotRecorded(PgrunError):
    """this attempt no longer holds its job, so a step's result could not be recorded"""


def parent_results(conn: psycopg.Connection, q: Queries, job_id: int) -> dict[int, Any]:
    (text,) = conn.execute(q.parent_results, (job_id,)).fetchone()
    return {int(key): value for key, value in json.loads(text).items()}


async def parent_results_async(conn: psycopg.AsyncConnection, q: Queries, job_id: int) -> dict[int, Any]:
    cursor = await conn.execute(q.parent_results, (job_id,))
    (text,) = await cursor.fetchone()
    return {int(key): value for key, value in json.loads(text).items()}


def recorded(conn: psycopg.Connection, q: Queries, job_id: int) -> dict[str, Any]:
    return {name: json.loads(text) for name, text in conn.execute(q.job_steps, (job_id,)).fetchall()}


async def recorded_async(conn: psycopg.AsyncConnection, q: Queries, job_id: int) -> dict[str, Any]:
    cursor = await conn.execute(q.job_steps, (job_id,))
    return {name: json.loads(text) for name, text in await cursor.fetchall()}


def _encoded(name: str, result: Any) -> str:
    return payloads.encode(result, where=f"the result of step {name!r}")


def record(conn: psycopg.Connection, q: Queries, worker_id: str, job: Job, name: str, result: Any) -> Any:
    """Records a step's result; returns it as a later attempt will read it."""
    text = _encoded(name, result)
    (held,) = conn.execute(q.record_job_step, (worker_id, job.id, job.lease, name, text)).fetchone()
    return _checked(held, job, name, text)


async def record_async(conn: psycopg.AsyncConnection, q: Queries, worker_id: str, job: Job, name: str,
                       result: Any) -> Any:
    text = _encoded(name, result)
    cursor = await conn.execute(q.record_job_step, (worker_id, job.id, job.lease, name, text))
    (held,) = await cursor.fetchone()
    return _checked(held, job, name, text)


def _checked(held: bool, job: Job, name: str, text: str) -> Any:
    if not held:
        raise StepNotRecorded(f"job {job.id} is no longer held by this attempt: "
                              f"step {name!r} was not recorded")
    return json.loads(text)


async def call(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """An async step: `fn` may be a coroutine function or a plain one (called as is)."""
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


def seconds_until(moment: datetime | str) -> float:
    """Seconds from now until `moment` (a datetime, naive meaning UTC, or ISO 8601 text)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if not isinstance(moment, datetime):
        raise TypeError(f"sleep_until takes a datetime or ISO 8601 text, got {type(moment).__name__}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - datetime.now(timezone.utc)).total_seconds()


def sleep_until(moment: datetime | str) -> None:
    """Ends the attempt until `moment` (a snooze) unless it has come."""
    seconds = seconds_until(moment)
    if seconds > 0:
        raise Snooze(seconds)
