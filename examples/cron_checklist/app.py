"""The cron checklist's app: one system cron job from a crontab, and users' own
report schedules kept as self-rescheduling jobs. README.md walks through it;
test_checklist.py checks each step against a real database.

    cd examples/cron_checklist && pgrun --tasks app --crontab crontab
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from croniter import croniter

import pgrun
from pgrun import task

UTC = timezone.utc

# The system's own recurring work, the same crontab on every instance:
#   */5 * * * * session.cleanup ?jobKey=session.cleanup
# The job key keeps at most one cleanup waiting: if the workers fall behind,
# a new tick replaces the waiting one instead of piling up another.
SYSTEM_CRONTAB = Path(__file__).with_name("crontab").read_text()

TABLES = """
create table if not exists report_schedules (
  id int primary key,
  cron text not null,
  tz text not null,
  recipient text not null
);
create table if not exists activity (
  id bigserial primary key,
  task text not null,
  detail text not null,
  job_id bigint not null,
  at timestamptz not null default clock_timestamp()
);
"""


def install(conn: psycopg.Connection) -> None:
    """Creates the app's tables (pgrun itself is installed by `pgrun migrate`)."""
    conn.execute(TABLES)


# ------------------------------------------------------------ user schedules


def schedule_key(schedule_id: int) -> str:
    """The job key of a schedule's pending run: one pending run per schedule."""
    return f"schedule:{schedule_id}"


def next_occurrence(cron: str, tz: str, after: datetime) -> datetime:
    """The first time strictly after `after` that `cron` fires in zone `tz`, in UTC.
    croniter does the daylight-saving arithmetic (see docs/cron.md)."""
    start = after.astimezone(ZoneInfo(tz))
    return croniter(cron, start).get_next(datetime).astimezone(UTC)


def set_schedule(conn: psycopg.Connection, schedule_id: int, cron: str, tz: str, recipient: str) -> pgrun.Job:
    """Creates or changes a user's schedule and returns its pending run.

    The schedule row and its job change in one transaction, and the job's key
    (mode "replace") means there is only ever one pending run: calling this
    again with a new expression moves that run rather than adding another.
    """
    if not croniter.is_valid(cron):
        raise ValueError(f"not a cron expression: {cron!r}")
    ZoneInfo(tz)  # raises for an unknown zone
    with conn.transaction():
        conn.execute(
            "insert into report_schedules (id, cron, tz, recipient) values (%s, %s, %s, %s)"
            " on conflict (id) do update set cron = excluded.cron, tz = excluded.tz,"
            " recipient = excluded.recipient",
            (schedule_id, cron, tz, recipient))
        return _enqueue_next(conn, schedule_id, cron, tz)


def run_now(conn: psycopg.Connection, schedule_id: int) -> pgrun.Job:
    """Runs a schedule at once: its pending run becomes due now. When it has run,
    the task enqueues the next occurrence as always, so the schedule goes on."""
    with conn.transaction():
        if conn.execute("select 1 from report_schedules where id = %s for update",
                        (schedule_id,)).fetchone() is None:
            raise LookupError(f"no schedule {schedule_id}")
        return pgrun.WorkerUtils(conn).add_job(
            "reports.send", {"schedule_id": schedule_id}, job_key=schedule_key(schedule_id),
            job_key_mode="replace")  # run_at: now


def remove_schedule(conn: psycopg.Connection, schedule_id: int) -> None:
    """Deletes a schedule and its pending run (a run already in progress finds
    the schedule gone and does not enqueue another)."""
    with conn.transaction():
        conn.execute("delete from report_schedules where id = %s", (schedule_id,))
        pgrun.WorkerUtils(conn).remove_job(schedule_key(schedule_id))


def _enqueue_next(conn: psycopg.Connection, schedule_id: int, cron: str, tz: str,
                  not_before: datetime | None = None) -> pgrun.Job:
    # The database's clock decides when a job is due, so it decides "next" too;
    # `not_before` (the run_at of the run in progress) keeps a worker whose
    # clock lags from enqueueing the same occurrence again.
    now = conn.execute("select now()").fetchone()[0]
    after = max(now, not_before) if not_before is not None else now
    return pgrun.WorkerUtils(conn).add_job(
        "reports.send", {"schedule_id": schedule_id}, job_key=schedule_key(schedule_id),
        job_key_mode="replace", run_at=next_occurrence(cron, tz, after))


# ------------------------------------------------------------------- tasks


@task("reports.send")
def send_report(payload, helpers):
    """Sends one report, then enqueues the schedule's next occurrence.

    The schedule is read from its table, locked, in the same transaction that
    enqueues the next run, so a concurrent set_schedule() either happens
    before (and this run follows the new expression) or after (and replaces
    what this run enqueued): never a stale expression left pending.
    """
    schedule_id = payload["schedule_id"]
    with helpers.connection() as conn, conn.transaction():
        row = conn.execute("select cron, tz, recipient from report_schedules where id = %s for update",
                           (schedule_id,)).fetchone()
        if row is None:
            helpers.logger.info("schedule %s was removed; nothing to send", schedule_id)
            return
        cron, tz, recipient = row
        # Sending the email would go here; the example records it instead.
        conn.execute("insert into activity (task, detail, job_id) values ('reports.send', %s, %s)",
                     (f"schedule {schedule_id} to {recipient}", helpers.job.id))
        # This job is running, so it holds no claim on the key any more: the
        # next run takes the key as a new job, and this one is deleted when done.
        _enqueue_next(conn, schedule_id, cron, tz, not_before=helpers.job.run_at)


@task("session.cleanup")
def cleanup_sessions(payload, helpers):
    """The system cron job: records which tick (`_cron.ts`) it ran for."""
    with helpers.connection() as conn:
        conn.execute("insert into activity (task, detail, job_id) values ('session.cleanup', %s, %s)",
                     (payload["_cron"]["ts"], helpers.job.id))
