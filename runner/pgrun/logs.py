"""Log setup for the `pgrun` command (embedders configure logging themselves).

Lines go to stderr, as `time LEVEL logger: message` (--log-format text), or as one JSON
object a line (--log-format json):

    {"time": "2026-12-03T07:40:01.123+00:00", "level": "info", "logger": "myapp.tasks",
     "message": "sending to ada@example.com", "job_id": 42, "task": "emails.send", "attempt": 1,
     "worker_id": "worker-...", "correlation_id": "req-7f3a"}

Every line logged during a job carries its job_id, task, attempt, worker_id and correlation_id,
the handler's own lines included (whatever logger it uses): pgrun's log-context middleware
puts the job in a ContextVar (middleware.current_job()) and `JobFields` copies it into each
record. pgrun's lines about a job written outside it (its completion, its retry) carry the
same fields in their extras (`job_fields`). Embedders get them with `JobFields` and
`JsonFormatter` on their own handlers.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

from .middleware import current_job

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")
FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s"
FIELDS = ("job_id", "task", "attempt", "worker_id", "correlation_id")


def job_fields(job: Any) -> dict[str, Any]:
    """A log record's extras for a line about `job` (a claimed Job)."""
    correlation_id = (job.meta and job.meta.get("correlation_id")) or str(job.id)
    return {"job_id": job.id, "task": job.task_identifier, "attempt": job.attempts,
            "worker_id": job.locked_by, "correlation_id": correlation_id}


class JobFields(logging.Filter):
    """Adds the running job's fields to each record logged during it (the logging thread's or
    task's context); fields a record already has are kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current_job()
        if context is not None and getattr(record, "job_id", None) in (None, context.job_id):
            record.job_id, record.task, record.attempt = context.job_id, context.task, context.attempt
            record.worker_id, record.correlation_id = context.worker_id, context.correlation_id
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the job's fields, and the
    exception's traceback (exception) if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_logging(level: str = "info", stream=None, log_format: str = "text") -> None:
    if log_format not in FORMATS:
        raise ValueError(f"a log format is one of {', '.join(FORMATS)} (got {log_format!r})")
    numeric = getattr(logging, level.upper())
    handler = logging.StreamHandler(stream or sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    handler.addFilter(JobFields())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # psycopg's pool narrates reconnections at INFO; the runner says what matters itself.
    logging.getLogger("psycopg").setLevel(max(numeric, logging.WARNING))
