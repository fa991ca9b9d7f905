"""A job's timeline for its page: what its own fields say happened (created, each failed
attempt, the attempt running now, the end) and what was done to it (its audit rows), in order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone


@dataclass(frozen=True)
class Event:
    at: datetime
    what: str
    kind: str  # a CSS class: created, failed, running, final, action, due


def _parse(value: str | datetime | None) -> datetime | None:
    """The errors history keeps `at` as JSON text."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def job_timeline(job: dict, audit: list[tuple], now: datetime) -> list[Event]:
    events = [Event(job["created_at"], "created", "created")]
    for entry in job["errors"] or []:
        at = _parse(entry.get("at"))
        if at is not None:
            first_line = str(entry.get("error") or "").split("\n", 1)[0][:120]
            events.append(Event(at, f"attempt {entry.get('attempt')} failed: {first_line}", "failed"))
    for at, role, action in audit:
        events.append(Event(at, f"{action} by {role}", "action"))
    if job["state"] == "running" and job["locked_at"] is not None:
        what = f"running on {job['locked_by']} (attempt {job['attempts']} of {job['max_attempts']})"
        events.append(Event(job["locked_at"], what, "running"))
    if job["finished_at"] is not None:
        events.append(Event(job["finished_at"], job["state"], "final"))
    elif job["state"] in ("scheduled", "retryable") and job["run_at"] > now:
        events.append(Event(job["run_at"], "due to run", "due"))
    return sorted(events, key=lambda event: event.at)
