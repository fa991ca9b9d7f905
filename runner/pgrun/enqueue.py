"""What add_job and add_jobs send: their parameters, built by the rules every path shares
(payloads.encode for payloads and meta, a job's retry policy, the correlation id of the job or
request it is added in)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from . import payloads, typed
from .job import Job, JobKeyMode, JobSpec
from .middleware import correlation_id
from .retry import RetryPolicy, check_policy
from .typed import TaskRef


def _seconds(timeout: float | timedelta | None, where: str = "timeout") -> float | None:
    """A job's timeout as seconds (the database refuses zero and below, with its own words)."""
    if timeout is None:
        return None
    if isinstance(timeout, timedelta):
        return timeout.total_seconds()
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"{where} is a number of seconds or a timedelta, got {type(timeout).__name__}")
    return float(timeout)


def add_job_params(identifier: str | TaskRef[Any], payload: Any, queue_name: str | None,
                    run_at: datetime | None, max_attempts: int | None, job_key: str | None,
                    priority: int | None, flags: Sequence[str] | None, job_key_mode: JobKeyMode,
                    timeout: float | timedelta | None = None, validate: bool = False,
                    retry: RetryPolicy | None = None, meta: dict[str, Any] | None = None,
                    depends_on: Sequence[int] | None = None,
                    limit_keys: Sequence[str] | None = None) -> tuple:
    identifier, payload = typed.resolve(identifier, payload, validate)
    seconds = _seconds(timeout)
    if retry is not None:
        meta = {**(meta or {}), "retry": check_policy(retry, "add_job(retry=...)").as_json()}
    correlation = correlation_id()   # pgrun.correlate(...)'s, or the running job's
    if correlation is not None and (meta is None or "correlation_id" not in meta):
        meta = {**(meta or {}), "correlation_id": correlation}
    for hook in meta_hooks:
        meta = hook(meta)
    return (identifier, None if payload is None else payloads.encode(payload), queue_name, run_at,
            max_attempts, job_key, priority, None if flags is None else list(flags), job_key_mode,
            None if seconds is None else timedelta(seconds=seconds),
            None if meta is None else payloads.encode(meta, where="meta"),
            _job_ids(depends_on), None if limit_keys is None else _limit_keys(limit_keys))


def _job_ids(depends_on: Sequence[int] | None) -> list[int] | None:
    """depends_on as a list of ids (the database refuses unknown ones, with its own words)."""
    if depends_on is None:
        return None
    if isinstance(depends_on, (str, bytes)) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                       for i in depends_on):
        raise TypeError("depends_on is a sequence of job ids (ints)")
    return list(depends_on)


def _limit_keys(keys: Sequence[str]) -> list[str]:
    """add_job's limit_keys as a list (a lone string is one key, not its characters)."""
    return [keys] if isinstance(keys, str) else list(keys)


def add_jobs_params(specs: Iterable[JobSpec], job_key_preserve_run_at: bool) -> tuple[str, bool]:
    """The specs as one JSON array, payloads written by the rules of payloads.encode (add_job's)."""
    rows = []
    for spec in specs:
        if not isinstance(spec, JobSpec):
            raise TypeError(f"add_jobs takes JobSpec objects, got {type(spec).__name__}")
        rows.append({
            "identifier": spec.identifier, "payload": spec.payload, "queue_name": spec.queue_name,
            "run_at": spec.run_at, "max_attempts": spec.max_attempts, "job_key": spec.job_key,
            "priority": spec.priority, "flags": None if spec.flags is None else list(spec.flags),
            "depends_on": _job_ids(spec.depends_on),
            "limit_keys": None if spec.limit_keys is None else _limit_keys(spec.limit_keys),
        })
    text = payloads.encode_all(rows)
    if text is None:  # something may be refused: each spec alone says which and why
        pieces = []
        for index, row in enumerate(rows):
            try:
                payload = payloads.encode(row.pop("payload"))
                fields = payloads.encode(row, where="spec")
            except (TypeError, ValueError) as error:
                raise type(error)(f"specs[{index}]: {error}") from None
            pieces.append('{"payload":' + payload + "," + fields[1:])
        text = "[" + ",".join(pieces) + "]"
    return text, bool(job_key_preserve_run_at)


def jobs_of(rows: list[tuple]) -> list[Job]:
    return [Job(*row) for row in rows]


# Each takes a job's meta (or None) and returns it, changed or not, as add_job builds its
# parameters: pgrun.otel's trace context. Empty unless instrumented.
meta_hooks: list = []

# Called with (connection, job) after each job added from Python (add_job, helpers.add_job,
# WorkerUtils): pgrun.testing's record of what was enqueued and its inline mode. Empty
# outside tests, which costs add_job one test of a list.
listeners: list = []


def added(conn: Any, job: Job) -> None:
    for listener in list(listeners):
        listener(conn, job)
