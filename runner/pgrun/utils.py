"""Adding jobs from Python and the admin functions, sync and async.

On a connection you already have (the job is added in your transaction, if any):

    pgrun.add_job(conn, "emails.send", {"to": "a@example.com"}, job_key="welcome:42")
    await pgrun.add_job_async(aconn, "emails.send", {...})

Or with a small object that opens its own connection:

    with WorkerUtils("postgresql://...") as utils:
        utils.add_job("emails.send", {...})
        utils.reschedule_jobs([42], run_at=datetime.now(timezone.utc))
        result = utils.wait_for(job.id, timeout=30)   # see pgrun.results

Payloads go through `pgrun.payloads.encode` on every path: datetimes, dates, UUIDs and
Decimals are written as strings; sets, other types, NaN, NUL characters and lone
surrogates are refused before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, overload

from . import control, db, enqueue, queries, results
from .aging import AgingMethods, AsyncAgingMethods
from .control import Explanation
from .enqueue import add_job_params, add_jobs_params, job_of, jobs_of
from .job import Job, JobKeyMode, JobSpec
from .migrate import MigrationResult, migrate
from .results import JobResult
from .retry import RetryPolicy
from .typed import TaskRef

P = TypeVar("P")

if TYPE_CHECKING:
    import psycopg
    from typing_extensions import Unpack

    from .typed import AddJobOptions

# ------------------------------------------------------- on your connection


@overload
def add_job(conn: psycopg.Connection, identifier: TaskRef[P], payload: P, *, schema: str = ...,
            **options: Unpack[AddJobOptions]) -> Job: ...
@overload
def add_job(conn: psycopg.Connection, identifier: str, payload: Any = None, *, schema: str = ...,
            **options: Unpack[AddJobOptions]) -> Job: ...
def add_job(conn: psycopg.Connection, identifier: str | TaskRef[Any], payload: Any = None, *,
            queue_name: str | None = None, run_at: datetime | None = None,
            max_attempts: int | None = None, job_key: str | None = None,
            priority: int | None = None, flags: Sequence[str] | None = None,
            job_key_mode: JobKeyMode = "replace", schema: str = "pgrun",
            timeout: float | timedelta | None = None, validate: bool = False,
            retry: RetryPolicy | None = None, meta: dict[str, Any] | None = None,
            depends_on: Sequence[int] | None = None,
            limit_keys: Sequence[str] | None = None) -> Job:
    """Adds one job (SQL `add_job`) on `conn`, inside its transaction if one is open.

    `timeout` (seconds or a timedelta): how long one attempt may run; None: no limit.
    `identifier` may be a TaskRef (pgrun.typed): then a type checker accepts only a payload of
    its type, and validate=True checks it here too (pydantic's ValidationError if it is not).
    `retry`: this job's own retry policy (pgrun.linear(30), ...; it wins over its task's).
    `meta`: a JSON object stored beside the payload for runners (SQL add_job's meta).
    `depends_on`: ids of jobs this one waits for: it stays blocked until they have all completed,
    and is cancelled if one fails or is cancelled (docs/workflows.md)."""
    params = add_job_params(identifier, payload, queue_name, run_at, max_attempts, job_key,
                             priority, flags, job_key_mode, timeout, validate, retry, meta, depends_on,
                             limit_keys)
    job = job_of(conn.execute(queries.for_schema(schema).add_job, params).fetchone())
    if enqueue.listeners:
        enqueue.added(conn, job)
    return job


def add_jobs(conn: psycopg.Connection, specs: Iterable[JobSpec], *,
             job_key_preserve_run_at: bool = False, schema: str = "pgrun") -> list[Job]:
    """Adds many jobs in one statement (SQL `add_jobs`)."""
    params = add_jobs_params(specs, job_key_preserve_run_at)
    return jobs_of(conn.execute(queries.for_schema(schema).add_jobs, params).fetchall())


@overload
async def add_job_async(conn: psycopg.AsyncConnection, identifier: TaskRef[P], payload: P, *,
                        schema: str = ..., **options: Unpack[AddJobOptions]) -> Job: ...
@overload
async def add_job_async(conn: psycopg.AsyncConnection, identifier: str, payload: Any = None, *,
                        schema: str = ..., **options: Unpack[AddJobOptions]) -> Job: ...
async def add_job_async(conn: psycopg.AsyncConnection, identifier: str | TaskRef[Any],
                        payload: Any = None, *,
                        queue_name: str | None = None, run_at: datetime | None = None,
                        max_attempts: int | None = None, job_key: str | None = None,
                        priority: int | None = None, flags: Sequence[str] | None = None,
                        job_key_mode: JobKeyMode = "replace", schema: str = "pgrun",
                        timeout: float | timedelta | None = None, validate: bool = False,
                        retry: RetryPolicy | None = None, meta: dict[str, Any] | None = None,
                        depends_on: Sequence[int] | None = None,
                        limit_keys: Sequence[str] | None = None) -> Job:
    """`add_job` on an async connection."""
    params = add_job_params(identifier, payload, queue_name, run_at, max_attempts, job_key,
                             priority, flags, job_key_mode, timeout, validate, retry, meta, depends_on,
                             limit_keys)
    cursor = await conn.execute(queries.for_schema(schema).add_job, params)
    job = job_of(await cursor.fetchone())
    if enqueue.listeners:
        enqueue.added(conn, job)
    return job


async def add_jobs_async(conn: psycopg.AsyncConnection, specs: Iterable[JobSpec], *,
                         job_key_preserve_run_at: bool = False, schema: str = "pgrun") -> list[Job]:
    """`add_jobs` on an async connection."""
    params = add_jobs_params(specs, job_key_preserve_run_at)
    cursor = await conn.execute(queries.for_schema(schema).add_jobs, params)
    return jobs_of(await cursor.fetchall())


# ------------------------------------------------------------- WorkerUtils


class WorkerUtils(AgingMethods):
    """Adds jobs and runs the admin functions on a connection of its own.

    `connection` is a URL/conninfo (else DATABASE_URL, else libpq's PG* variables) or an open
    psycopg connection, which is used as is and not closed.
    """

    def __init__(self, connection: str | psycopg.Connection | None = None, *,
                 schema: str = "pgrun") -> None:
        self.schema = schema
        self._queries = queries.for_schema(schema)
        self._owned = not isinstance(connection, db.Connection)
        self._conninfo = db.resolve_conninfo(connection) if self._owned else None
        self._conn: psycopg.Connection | None = None if self._owned else connection

    @property
    def connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = db.connect(self._conninfo)
        return self._conn

    def close(self) -> None:
        if self._owned and self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> WorkerUtils:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def migrate(self) -> MigrationResult:
        return migrate(self.connection, self.schema)

    @overload
    def add_job(self, identifier: TaskRef[P], payload: P, **options: Unpack[AddJobOptions]) -> Job: ...
    @overload
    def add_job(self, identifier: str, payload: Any = None, **options: Unpack[AddJobOptions]) -> Job: ...
    def add_job(self, identifier: str | TaskRef[Any], payload: Any = None, *,
                queue_name: str | None = None, run_at: datetime | None = None,
                max_attempts: int | None = None, job_key: str | None = None, priority: int | None = None,
                flags: Sequence[str] | None = None, job_key_mode: JobKeyMode = "replace",
                timeout: float | timedelta | None = None, validate: bool = False,
                retry: RetryPolicy | None = None, meta: dict[str, Any] | None = None,
                depends_on: Sequence[int] | None = None,
                limit_keys: Sequence[str] | None = None) -> Job:
        return add_job(self.connection, identifier, payload, queue_name=queue_name, run_at=run_at,
                       max_attempts=max_attempts, job_key=job_key, priority=priority, flags=flags,
                       job_key_mode=job_key_mode, schema=self.schema, timeout=timeout, validate=validate,
                       retry=retry, meta=meta, depends_on=depends_on, limit_keys=limit_keys)

    def add_jobs(self, specs: Iterable[JobSpec], *, job_key_preserve_run_at: bool = False) -> list[Job]:
        return add_jobs(self.connection, specs, job_key_preserve_run_at=job_key_preserve_run_at,
                        schema=self.schema)

    def complete_jobs(self, job_ids: Sequence[int]) -> list[Job]:
        """Deletes these jobs unless a worker is running them; returns the deleted ones."""
        return self._all(self._queries.complete_jobs, (list(job_ids),))

    def remove_jobs(self, job_ids: Sequence[int]) -> list[Job]:
        """Deletes these jobs in any state but running (failed, cancelled and kept completed jobs
        too); returns the deleted ones. Jobs blocked on a deleted one that had not ended are
        cancelled."""
        return self._all(self._queries.remove_jobs, (list(job_ids),))

    def permanently_fail_jobs(self, job_ids: Sequence[int], error_message: str | None = None) -> list[Job]:
        """Stops retrying these jobs (unless running); they stay for inspection."""
        return self._all(self._queries.permanently_fail_jobs, (list(job_ids), error_message))

    def cancel_jobs(self, job_ids: Sequence[int], reason: str | None = None) -> list[Job]:
        """Waiting jobs end cancelled now; running ones end cancelled when their attempt ends."""
        return self._all(self._queries.cancel_jobs, (list(job_ids), reason))

    def reschedule_jobs(self, job_ids: Sequence[int], *, run_at: datetime | None = None,
                        priority: int | None = None, attempts: int | None = None,
                        max_attempts: int | None = None) -> list[Job]:
        """Changes what is given (None keeps the job's value) of jobs that are not running."""
        return self._all(self._queries.reschedule_jobs,
                         (list(job_ids), run_at, priority, attempts, max_attempts))

    def remove_job(self, job_key: str) -> Job | None:
        """Deletes the job with this key (a running one loses its key and its retries)."""
        rows = self._all(self._queries.remove_job, (job_key,))
        return rows[0] if rows else None

    def force_unlock_workers(self, worker_ids: Sequence[str]) -> None:
        """Releases every job and queue these (known dead) workers hold."""
        self.connection.execute(self._queries.force_unlock_workers, (list(worker_ids),))

    def retry_jobs(self, job_ids: Sequence[int]) -> list[Job]:
        """Failed or cancelled jobs run again now, attempts reset (others are left out)."""
        return self._all(self._queries.retry_jobs, (list(job_ids),))

    def pause_queue(self, queue_name: str) -> bool:
        """No claim takes this queue's jobs until resumed; True if it was not paused."""
        return control.set_paused(self.connection, self._queries, "queue", queue_name, True)

    def resume_queue(self, queue_name: str) -> bool:
        return control.set_paused(self.connection, self._queries, "queue", queue_name, False)

    def pause_task(self, task_identifier: str) -> bool:
        """No claim takes this task's jobs (in any queue) until resumed."""
        return control.set_paused(self.connection, self._queries, "task", task_identifier, True)

    def resume_task(self, task_identifier: str) -> bool:
        return control.set_paused(self.connection, self._queries, "task", task_identifier, False)

    def explain_job(self, job_id: int) -> Explanation:
        """Why this job is not running now (see pgrun.control.Explanation)."""
        return control.explain_job(self.connection, self._queries, job_id)

    def set_dead_letter(self, dead_letter_task: str, *, task_identifier: str | None = None,
                        queue_name: str | None = None) -> None:
        """Failed jobs of this task, of this queue, or (neither given) of any other job add a job of
        `dead_letter_task` carrying them (SQL `set_dead_letter`; the most specific rule wins)."""
        self.connection.execute(self._queries.set_dead_letter,
                                (dead_letter_task, task_identifier, queue_name))

    def remove_dead_letter(self, *, task_identifier: str | None = None,
                           queue_name: str | None = None) -> bool:
        """Forgets the dead-letter rule of this scope; says whether there was one."""
        return self.connection.execute(self._queries.remove_dead_letter,
                                       (task_identifier, queue_name)).fetchone()[0]

    def get_result(self, job_id: int) -> JobResult | None:
        """The job's state, result, last error and finish time; None for an unknown job."""
        return results.get_result(self.connection, job_id, schema=self.schema)

    def wait_for(self, job_id: int, timeout: float | None = None) -> JobResult:
        """Waits (on LISTEN, without polling) until the job is completed, failed or cancelled;
        returns its JobResult whatever the outcome (check `.ok`). Raises LookupError for an
        unknown job (or one retention already removed) and pgrun.WaitTimeout, a TimeoutError,
        after `timeout` seconds (None: no limit). See pgrun.results about retention."""
        return results.wait_for(self.connection, job_id, timeout, schema=self.schema)

    def watch_jobs(self, job_ids: Sequence[int]) -> None:
        """Keeps these jobs' results readable for a later wait_for (see pgrun.results)."""
        results.watch_jobs(self.connection, job_ids, schema=self.schema)

    def unwatch_jobs(self, job_ids: Sequence[int]) -> None:
        results.unwatch_jobs(self.connection, job_ids, schema=self.schema)

    def _all(self, query: str, params: tuple) -> list[Job]:
        return jobs_of(self.connection.execute(query, params).fetchall())


class AsyncWorkerUtils(AsyncAgingMethods):
    """WorkerUtils for asyncio code: the same methods, awaited."""

    def __init__(self, connection: str | psycopg.AsyncConnection | None = None, *,
                 schema: str = "pgrun") -> None:
        self.schema = schema
        self._queries = queries.for_schema(schema)
        self._owned = not isinstance(connection, db.AsyncConnection)
        self._conninfo = db.resolve_conninfo(connection) if self._owned else None
        self._conn: psycopg.AsyncConnection | None = None if self._owned else connection

    async def connection(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            self._conn = await db.connect_async(self._conninfo)
        return self._conn

    async def close(self) -> None:
        if self._owned and self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def __aenter__(self) -> AsyncWorkerUtils:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @overload
    async def add_job(self, identifier: TaskRef[P], payload: P, **options: Unpack[AddJobOptions]) -> Job: ...
    @overload
    async def add_job(self, identifier: str, payload: Any = None,
                      **options: Unpack[AddJobOptions]) -> Job: ...
    async def add_job(self, identifier: str | TaskRef[Any], payload: Any = None, *,
                      queue_name: str | None = None, run_at: datetime | None = None,
                      max_attempts: int | None = None, job_key: str | None = None,
                      priority: int | None = None, flags: Sequence[str] | None = None,
                      job_key_mode: JobKeyMode = "replace", timeout: float | timedelta | None = None,
                      validate: bool = False, retry: RetryPolicy | None = None,
                      meta: dict[str, Any] | None = None, depends_on: Sequence[int] | None = None,
                      limit_keys: Sequence[str] | None = None) -> Job:
        return await add_job_async(await self.connection(), identifier, payload, queue_name=queue_name,
                                   run_at=run_at, max_attempts=max_attempts, job_key=job_key,
                                   priority=priority, flags=flags, job_key_mode=job_key_mode,
                                   schema=self.schema, timeout=timeout, validate=validate, retry=retry,
                                   meta=meta, depends_on=depends_on, limit_keys=limit_keys)

    async def add_jobs(self, specs: Iterable[JobSpec], *,
                       job_key_preserve_run_at: bool = False) -> list[Job]:
        return await add_jobs_async(await self.connection(), specs,
                                    job_key_preserve_run_at=job_key_preserve_run_at, schema=self.schema)

    async def complete_jobs(self, job_ids: Sequence[int]) -> list[Job]:
        return await self._all(self._queries.complete_jobs, (list(job_ids),))

    async def remove_jobs(self, job_ids: Sequence[int]) -> list[Job]:
        return await self._all(self._queries.remove_jobs, (list(job_ids),))

    async def permanently_fail_jobs(self, job_ids: Sequence[int],
                                    error_message: str | None = None) -> list[Job]:
        return await self._all(self._queries.permanently_fail_jobs, (list(job_ids), error_message))

    async def cancel_jobs(self, job_ids: Sequence[int], reason: str | None = None) -> list[Job]:
        return await self._all(self._queries.cancel_jobs, (list(job_ids), reason))

    async def reschedule_jobs(self, job_ids: Sequence[int], *, run_at: datetime | None = None,
                              priority: int | None = None, attempts: int | None = None,
                              max_attempts: int | None = None) -> list[Job]:
        return await self._all(self._queries.reschedule_jobs,
                               (list(job_ids), run_at, priority, attempts, max_attempts))

    async def remove_job(self, job_key: str) -> Job | None:
        rows = await self._all(self._queries.remove_job, (job_key,))
        return rows[0] if rows else None

    async def force_unlock_workers(self, worker_ids: Sequence[str]) -> None:
        await (await self.connection()).execute(self._queries.force_unlock_workers, (list(worker_ids),))

    async def retry_jobs(self, job_ids: Sequence[int]) -> list[Job]:
        return await self._all(self._queries.retry_jobs, (list(job_ids),))

    async def pause_queue(self, queue_name: str) -> bool:
        return await self._set_paused("queue", queue_name, True)

    async def resume_queue(self, queue_name: str) -> bool:
        return await self._set_paused("queue", queue_name, False)

    async def pause_task(self, task_identifier: str) -> bool:
        return await self._set_paused("task", task_identifier, True)

    async def resume_task(self, task_identifier: str) -> bool:
        return await self._set_paused("task", task_identifier, False)

    async def explain_job(self, job_id: int) -> Explanation:
        return await control.explain_job_async(await self.connection(), self._queries, job_id)

    async def set_dead_letter(self, dead_letter_task: str, *, task_identifier: str | None = None,
                              queue_name: str | None = None) -> None:
        await (await self.connection()).execute(self._queries.set_dead_letter,
                                                (dead_letter_task, task_identifier, queue_name))

    async def remove_dead_letter(self, *, task_identifier: str | None = None,
                                 queue_name: str | None = None) -> bool:
        cursor = await (await self.connection()).execute(self._queries.remove_dead_letter,
                                                         (task_identifier, queue_name))
        return (await cursor.fetchone())[0]

    async def get_result(self, job_id: int) -> JobResult | None:
        return await results.get_result_async(await self.connection(), job_id, schema=self.schema)

    async def wait_for(self, job_id: int, timeout: float | None = None) -> JobResult:
        """WorkerUtils.wait_for, awaited. It holds this object's connection while it waits:
        other calls on the same AsyncWorkerUtils wait for it (use one per concurrent waiter)."""
        return await results.wait_for_async(await self.connection(), job_id, timeout, schema=self.schema)

    async def watch_jobs(self, job_ids: Sequence[int]) -> None:
        await results.watch_jobs_async(await self.connection(), job_ids, schema=self.schema)

    async def unwatch_jobs(self, job_ids: Sequence[int]) -> None:
        await results.unwatch_jobs_async(await self.connection(), job_ids, schema=self.schema)

    async def _set_paused(self, kind: control.Kind, name: str, paused: bool) -> bool:
        return await control.set_paused_async(await self.connection(), self._queries, kind, name, paused)

    async def _all(self, query: str, params: tuple) -> list[Job]:
        cursor = await (await self.connection()).execute(query, params)
        return jobs_of(await cursor.fetchall())
