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

# timedelta's limit, 999,999,999 days (PostgreSQL's interval holds more)
_MAX_TIMEOUT_SECONDS = 999_999_999 * 86_400
# add_job checks the ranges (with these words); a Python int outside integer's range would
# fail sooner, at the parameter, with PostgreSQL's "integer out of range". add_jobs' specs
# are smallints: a value outside is refused at the cast, without saying which spec.
_INT_RANGES = {"priority": (-32768, 32767), "max_attempts": (1, 32767)}


def _seconds(timeout: float | timedelta | None, where: str = "timeout") -> float | None:
    """A job's timeout as seconds (the database refuses zero and below, with its own words)."""
    if timeout is None:
        return None
    if isinstance(timeout, timedelta):
        return timeout.total_seconds()
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"{where} is a number of seconds or a timedelta, got {type(timeout).__name__}")
    if not abs(timeout) <= _MAX_TIMEOUT_SECONDS:   # NaN too
        raise ValueError(f"{where} must be a finite number of seconds, at most {_MAX_TIMEOUT_SECONDS:,} "
                         f"(got {timeout!r})")
    return float(timeout)


def check_arguments(label: str, identifier: object, queue_name: object, job_key: object,
                    flags: Sequence[str] | None, priority: object, max_attempts: object,
                    job_key_mode: object = None, smallints: bool = False,
                    limit_keys: Sequence[str] | None = None) -> None:
    """Refuses, naming the argument, what could not even reach add_job's own checks: text
    PostgreSQL cannot hold (NUL, lone surrogates: psycopg would fail without saying which
    argument) and integers outside integer's range. `label`: '' or 'specs[3]: '."""
    _check_text(label, "identifier", identifier)
    for name, value in (("queue_name", queue_name), ("job_key", job_key), ("job_key_mode", job_key_mode)):
        if value is not None:
            _check_text(label, name, value)
    for i, flag in enumerate(flags or ()):
        _check_text(label, f"flags[{i}]", flag)
    for i, key in enumerate(_limit_keys(limit_keys) if limit_keys else ()):
        _check_text(label, f"limit_keys[{i}]", key)
    if priority is None and max_attempts is None:
        return
    for name, value in (("priority", priority), ("max_attempts", max_attempts)):
        low, high = _INT_RANGES[name]
        if isinstance(value, int) and not (low <= value <= high if smallints else -2**31 <= value < 2**31):
            raise ValueError(f"{label}{name} must be between {low} and {high} (got {value})")


def _check_text(label: str, name: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise TypeError(f"{label}{name} must be a str, got {type(value).__name__}")
    if "\x00" in value:
        raise ValueError(f"{label}{name} cannot contain NUL characters: PostgreSQL text cannot "
                         "store \\x00")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{label}{name} cannot contain lone surrogates (U+D800 to U+DFFF): "
                             "they are not valid Unicode") from None


def add_job_params(identifier: str | TaskRef[Any], payload: Any, queue_name: str | None,
                    run_at: datetime | None, max_attempts: int | None, job_key: str | None,
                    priority: int | None, flags: Sequence[str] | None, job_key_mode: JobKeyMode,
                    timeout: float | timedelta | None = None, validate: bool = False,
                    retry: RetryPolicy | None = None, meta: dict[str, Any] | None = None,
                    depends_on: Sequence[int] | None = None,
                    limit_keys: Sequence[str] | None = None) -> tuple:
    identifier, payload = typed.resolve(identifier, payload, validate)
    check_arguments("", identifier, queue_name, job_key, flags, priority, max_attempts, job_key_mode,
                    limit_keys=limit_keys)
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
            # a timedelta as given: through float seconds, one of 99,421 days lost a microsecond
            timeout if isinstance(timeout, timedelta)
            else None if seconds is None else timedelta(seconds=seconds),
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
    for index, spec in enumerate(specs):
        if not isinstance(spec, JobSpec):
            raise TypeError(f"add_jobs takes JobSpec objects, got {type(spec).__name__}")
        check_arguments(f"specs[{index}]: ", spec.identifier, spec.queue_name, spec.job_key, spec.flags,
                        spec.priority, spec.max_attempts, smallints=True, limit_keys=spec.limit_keys)
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


# Where ROW_COLUMNS puts the JSON texts that jobs_of decodes
_PAYLOAD, _FLAGS, _META = 3, 15, 19


def jobs_of(rows: list[tuple]) -> list[Job]:
    """Jobs from rows of ROW_COLUMNS: every row's payload decoded in one call, then the few
    flags and metas there are in another."""
    if not rows:
        return []
    payloads_ = payloads.decode_all([row[_PAYLOAD] for row in rows])
    others = [row[i] for row in rows for i in (_FLAGS, _META) if row[i] is not None]
    decoded = iter(payloads.decode_all(others) if others else ())
    jobs = []
    for row, payload in zip(rows, payloads_, strict=True):
        values = list(row)
        values[_PAYLOAD] = payload
        for i in (_FLAGS, _META):
            if values[i] is not None:
                values[i] = next(decoded)
        jobs.append(Job(*values))
    return jobs


def job_of(row: tuple) -> Job:
    return jobs_of([row])[0]


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
