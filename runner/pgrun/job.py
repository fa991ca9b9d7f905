"""What a job is, seen from Python: a row of the jobs table, and the spec to add one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

JobKeyMode = Literal["replace", "preserve_run_at", "unsafe_dedupe"]

# The columns every query that returns jobs selects, in Job's field order.
JOB_COLUMNS = (
    "id", "queue_name", "task_identifier", "payload", "priority", "run_at", "attempts",
    "max_attempts", "last_error", "created_at", "updated_at", "key", "locked_at", "locked_by",
    "revision", "flags",
)
# What the utilities (add_job, add_jobs, the admin functions) select: JOB_COLUMNS, then
# the schema-2 columns Job carries at its end. payload, flags and meta come as JSON text,
# which enqueue.jobs_of decodes for all rows in one call, as the claim does (payloads.decode_all):
# psycopg's loader would call json.loads once per value.
ROW_COLUMNS = tuple(f"{c}::text" if c in ("payload", "flags") else c for c in JOB_COLUMNS) + (
    "state", "lease", "extract(epoch from timeout)::float8 as timeout", "meta::text", "limit_keys")


@dataclass(slots=True)
class Job:
    """One job as the database holds it. `attempts` counts the attempt now running.

    `state` is one of scheduled, available, running, retryable, blocked, completed, failed,
    cancelled; `lease` identifies the running attempt. Both are None where a query did not
    select them (rows built from JOB_COLUMNS only).
    """

    id: int
    queue_name: str | None
    task_identifier: str
    payload: Any
    priority: int
    run_at: datetime
    attempts: int
    max_attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    key: str | None
    locked_at: datetime | None
    locked_by: str | None
    revision: int
    flags: dict[str, bool] | None
    state: str | None = None   # scheduled, available, running, retryable, completed, failed, ...
    lease: int | None = None   # the claim holding this attempt (running jobs): outcomes present it
    timeout: float | None = None   # seconds an attempt may run (add_job's timeout), if set
    # add_job's meta: "retry" (the job's own retry policy), "correlation_id", "traceparent", ...
    meta: dict[str, Any] | None = None
    limit_keys: list[str] | None = None   # the keys beyond its queue whose limits it obeys

    @property
    def correlation_id(self) -> str | None:
        return None if self.meta is None else self.meta.get("correlation_id")

    @property
    def is_last_attempt(self) -> bool:
        return self.attempts >= self.max_attempts


@dataclass(slots=True)
class JobSpec:
    """One job for `add_jobs`; fields left None take the database defaults."""

    identifier: str
    payload: Any = None
    queue_name: str | None = None
    run_at: datetime | None = None
    max_attempts: int | None = None
    job_key: str | None = None
    priority: int | None = None
    flags: list[str] | None = None
    # ids of jobs this one waits for; -k names the job of spec k (1-based) of the same call
    depends_on: list[int] | None = None
    limit_keys: list[str] | None = None   # keys beyond its queue whose limits it obeys (schema 10)
    # (no timeout: job_spec has Graphile's eight attributes, depends_on and limit_keys; add_job takes one)
