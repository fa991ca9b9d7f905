"""The inspection commands: `pgrun jobs` (a filtered, paged listing), `pgrun jobs show ID`,
`pgrun jobs remove|reschedule ID...`, `pgrun add TASK [PAYLOAD]`, `pgrun queues` (a listing,
beside `queues pause|resume`), `pgrun workers` and `pgrun stats` (SQL list_jobs, the jobs view,
remove_jobs, reschedule_jobs, add_job, list_queues, list_workers, job_counts, job_throughput).
The listings need read rights; remove, reschedule and add need admin (add: enqueue) rights.

    pgrun jobs --state failed --task emails.send     # newest first, 50 a page
    pgrun jobs --state failed --before 1234          # the next page
    pgrun jobs show 42 --json
    pgrun add emails.send '{"to": "ada@example.com"}' --run-at 5m --job-key welcome:ada
    pgrun stats --minutes 60

Tables for people by default, one JSON document with `--json`. Bad input (an unknown id or
state, a payload that is not JSON, a time that is neither ISO 8601 nor a delay) exits 2 with
one line on stderr, as the control commands do (admin_cli.py, whose helpers these share).
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta, timezone

import click

from . import admin_cli
from .admin_cli import _JOB_ID, _emit, _options, _run, _states_before
from .fmt import duration
from .grant_cli import EXIT_USAGE, OneLineCommand, OneLineGroup
from .queries import (
    COUNT_COLUMNS,
    LIST_JOB_COLUMNS,
    QUEUE_COLUMNS,
    SHOW_JOB_COLUMNS,
    THROUGHPUT_COLUMNS,
    WORKER_COLUMNS,
    column_names,
)

_STATES = ("scheduled", "available", "running", "retryable", "blocked", "completed", "failed", "cancelled")
_DELAY = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_WHEN_HELP = "When to run: ISO 8601 (UTC if no zone) or a delay (30s, 5m, 2h)."


class _When(click.ParamType):
    """A moment: ISO 8601 (without a zone: UTC) or a delay from now (30s, 5m, 2h, 1d)."""

    name = "WHEN"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        delay = _DELAY.match(text)
        if delay:
            try:
                later = timedelta(**{_UNITS[delay.group(2)]: float(delay.group(1))})
                return datetime.now(timezone.utc) + later
            except OverflowError:   # beyond datetime's year 9999
                self.fail(f"{text!r} is too far ahead (datetime reaches the year 9999)", param, ctx)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{text!r} is neither a time (ISO 8601) nor a delay (30s, 5m, 2h, 1d)", param, ctx)
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class _JsonText(click.ParamType):
    """JSON text, checked here (so a typo is one line, not a database error) and sent as written."""

    name = "JSON"

    def convert(self, value, param, ctx):
        try:
            json.loads(value)
        except ValueError as error:
            self.fail(f"not JSON: {error}", param, ctx)
        return value


def _rows(columns: tuple[str, ...], rows: list[tuple]) -> list[dict]:
    names = column_names(columns)
    return [dict(zip(names, row, strict=True)) for row in rows]


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, timedelta):
        return duration(value.total_seconds())
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = " ".join(str(value).split("\n", 1)[0].split())
    return text if len(text) <= 60 else text[:57] + "..."


def table(headers: list[str], rows: list[list[object]]) -> list[str]:
    """Lines of a plain text table: headers, then one line per row, columns padded."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    return ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
            for line in [headers, *cells]]


def _age(moment: datetime | None, since: datetime | None) -> str:
    return "-" if moment is None or since is None else duration((since - moment).total_seconds())


# ------------------------------------------------------------------- jobs

@click.group("jobs", cls=OneLineGroup, invoke_without_command=True)
@click.option("--state", help=f"Only jobs in this state ({', '.join(_STATES)}).")
@click.option("--task", help="Only jobs of this task.")
@click.option("--queue", help="Only jobs of this named queue.")
@click.option("--key", help="Only the job(s) with this job key.")
@click.option("--payload", "payload_text",
              help="Only jobs whose payload's JSON text contains this (any case).")
@click.option("--before", type=_JOB_ID, help="The page after this id (jobs come newest first).")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="Jobs per page.")
@_options
def jobs(ctx: click.Context, state: str | None, task: str | None, queue: str | None, key: str | None,
         payload_text: str | None, before: int | None, limit: int, connection: str | None, schema: str | None,
         as_json: bool) -> None:
    """List jobs, newest first, filtered and paged; or act on jobs by id (see the commands)."""
    if ctx.invoked_subcommand is not None:
        return
    found = _rows(LIST_JOB_COLUMNS, _run(ctx, connection, schema, "list_jobs",
                                         (state, task, queue, key, payload_text, before, limit)))
    after = found[-1]["id"] if len(found) == limit else None
    if as_json:
        _emit(True, {"jobs": found, "next_before": after}, [])
        return
    headers = ["ID", "TASK", "QUEUE", "STATE", "ATTEMPTS", "RUN AT", "KEY", "LAST ERROR"]
    lines = table(headers, [[j["id"], j["task_identifier"], j["queue_name"], j["state"],
                             f"{j['attempts']}/{j['max_attempts']}", j["run_at"], j["key"], j["last_error"]]
                            for j in found]) if found else ["no jobs match"]
    if after is not None:
        lines.append(f"(more: add --before {after})")
    _emit(False, None, lines)


@jobs.command("show", cls=OneLineCommand)
@click.argument("job_id", metavar="ID", type=_JOB_ID)
@_options
def show(ctx: click.Context, job_id: int, connection: str | None, schema: str | None, as_json: bool) -> None:
    """Everything about job ID: its fields, payload, result, every attempt's error, and why it
    is not running now."""
    rows = _rows(SHOW_JOB_COLUMNS, _run(ctx, connection, schema, "show_job", (job_id,)))
    if not rows:
        click.echo(f"pgrun: no job {job_id}", err=True)
        sys.exit(EXIT_USAGE)
    job = rows[0]
    state, reason, until = _run(ctx, connection, schema, "explain_job", (job_id,))[0]
    job["explain"] = {"reason": reason, "until": until}
    if as_json:
        _emit(True, job, [])
        return
    lines = [f"job {job_id}: {reason}" + (f" (until {_cell(until)})" if until else "")]
    for name in ("task_identifier", "queue_name", "state", "priority", "run_at", "attempts", "max_attempts",
                 "key", "revision", "flags", "created_at", "updated_at", "locked_by", "locked_at",
                 "finished_at", "keep_until", "timeout", "cancel_requested_at", "cancel_reason",
                 "dead_letter_job_id"):
        if job[name] is not None:
            lines.append(f"  {name}: {_cell(job[name])}")
    lines.append("payload:")
    lines += ["  " + line for line in json.dumps(job["payload"], indent=2).splitlines()]
    if job["result"] is not None:
        lines.append("result:")
        lines += ["  " + line for line in json.dumps(job["result"], indent=2).splitlines()]
    for error in job["errors"] or []:
        lines.append(f"attempt {error.get('attempt')} failed at {error.get('at')}:")
        lines += ["  " + line for line in str(error.get("error", "")).splitlines()]
    _emit(False, None, lines)


@jobs.command("remove", cls=OneLineCommand)
@click.argument("job_ids", metavar="ID...", nargs=-1, required=True, type=_JOB_ID)
@_options
def remove(ctx: click.Context, job_ids: tuple[int, ...], connection: str | None, schema: str | None,
           as_json: bool) -> None:
    """Remove jobs that are not running, in any other state (SQL remove_jobs): waiting, failed,
    cancelled, or completed and kept. Running jobs are left as they are (cancel them first)."""
    before = _states_before(ctx, connection, schema, job_ids)
    removed = {row[0] for row in _run(ctx, connection, schema, "remove_jobs", (list(job_ids),))}
    document, lines = [], []
    for job_id in dict.fromkeys(job_ids):
        done = job_id in removed
        document.append({"id": job_id, "before": before[job_id], "removed": done})
        lines.append(f"job {job_id}: " + (f"removed (it was {before[job_id]})" if done
                                          else f"left as it was (it is {before[job_id]})"))
    _emit(as_json, document, lines)


@jobs.command("reschedule", cls=OneLineCommand)
@click.argument("job_ids", metavar="ID...", nargs=-1, required=True, type=_JOB_ID)
@click.option("--run-at", type=_When(), help=_WHEN_HELP)
@click.option("--priority", type=int, help="New priority (lower runs first).")
@click.option("--attempts", type=int, help="Attempts used so far (0: as new).")
@click.option("--max-attempts", type=int, help="New attempt limit.")
@_options
def reschedule(ctx: click.Context, job_ids: tuple[int, ...], run_at: datetime | None, priority: int | None,
               attempts: int | None, max_attempts: int | None, connection: str | None, schema: str | None,
               as_json: bool) -> None:
    """Change when jobs that are not running run, their priority or their attempts (SQL
    reschedule_jobs); what is not given stays."""
    if run_at is None and priority is None and attempts is None and max_attempts is None:
        click.echo("pgrun: jobs reschedule: give at least one of --run-at, --priority, --attempts, "
                   "--max-attempts", err=True)
        sys.exit(EXIT_USAGE)
    params = (list(job_ids), run_at, priority, attempts, max_attempts)
    admin_cli._job_action(ctx, connection, schema, as_json, job_ids, "reschedule_jobs", params,
                          lambda before, job: (f"left as it was (it is {before})" if job is None
                                               else f"{job.state}, runs at {_cell(job.run_at)} "
                                                    f"(attempts {job.attempts} of {job.max_attempts})"))


for _command in admin_cli.jobs.commands.values():  # cancel, retry
    jobs.add_command(_command)


# -------------------------------------------------------------------- add

@click.command("add", cls=OneLineCommand)
@click.argument("task")
@click.argument("payload", required=False, type=_JsonText())
@click.option("--run-at", type=_When(), help=_WHEN_HELP)
@click.option("--job-key", help="A job key (a pending job with it is replaced).")
@click.option("--queue", help="A named queue.")
@click.option("--priority", type=int, help="Lower runs first (default 0).")
@click.option("--max-attempts", type=int, help="Attempts before it fails for good (default 25).")
@click.option("--limit-key", "limit_keys", multiple=True,
              help="A key whose limit the job obeys beside its queue's (repeat for more; see pgrun limits).")
@_options
def add(ctx: click.Context, task: str, payload: str | None, run_at: datetime | None, job_key: str | None,
        queue: str | None, priority: int | None, max_attempts: int | None, limit_keys: tuple[str, ...],
        connection: str | None, schema: str | None, as_json: bool) -> None:
    """Add a job of TASK, with PAYLOAD (JSON; default {})."""
    # add_job's parameters in order: ..., flags, job_key_mode, timeout, meta, depends_on, limit_keys
    row = _run(ctx, connection, schema, "add_job",
               (task, payload, queue, run_at, max_attempts, job_key, priority, None, "replace", None,
                None, None, list(limit_keys) or None))[0]
    job_id, state, when = row[0], row[16], row[5]
    _emit(as_json, {"id": job_id, "task": task, "state": state, "run_at": when},
          [f"added job {job_id} (task {task}, {state}" + (f", runs at {_cell(when)})" if state == "scheduled"
                                                        else ")")])


# ----------------------------------------------------------------- queues

@click.group("queues", cls=OneLineGroup, invoke_without_command=True)
@_options
def queues(ctx: click.Context, connection: str | None, schema: str | None, as_json: bool) -> None:
    """List named queues (waiting counts from the last count, seconds old); pause or resume one."""
    if ctx.invoked_subcommand is not None:
        return
    found = _rows(QUEUE_COLUMNS, _run(ctx, connection, schema, "list_queues", ()))
    if as_json:
        _emit(True, found, [])
        return
    now = datetime.now(timezone.utc)
    _emit(False, None, table(
        ["QUEUE", "PAUSED", "RUNNING", "AVAILABLE", "SCHEDULED", "RETRYABLE", "FAILED", "OLDEST WAITING"],
        [[q["queue_name"], q["paused"], f"{q['running']}/{q['max_running']}", q["available"], q["scheduled"],
          q["retryable"], q["failed"], _age(q["waiting_since"], now)] for q in found])
        if found else ["no named queues"])


for _command in admin_cli.queues.commands.values():  # pause, resume
    queues.add_command(_command)


# ---------------------------------------------------------------- workers

@click.command("workers", cls=OneLineCommand)
@_options
def workers(ctx: click.Context, connection: str | None, schema: str | None, as_json: bool) -> None:
    """List registered workers: their lease, whether they are live, and the jobs each holds."""
    found = _rows(WORKER_COLUMNS, _run(ctx, connection, schema, "list_workers", ()))
    if as_json:
        _emit(True, found, [])
        return
    now = datetime.now(timezone.utc)
    rows = []
    for w in found:
        held = w["running_job_ids"]
        status = "reaped" if w["reaped_at"] else "live" if w["live"] else "silent"
        rows.append([w["worker_id"], status, w["started_at"], _age(w["last_heartbeat_at"], now) + " ago",
                     len(held), ", ".join(map(str, held[:5])) + (", ..." if len(held) > 5 else "")])
    _emit(False, None, table(["WORKER", "STATUS", "STARTED", "LAST BEAT", "RUNNING", "JOBS"], rows)
          if rows else ["no workers registered"])


# ------------------------------------------------------------------ stats

@click.command("stats", cls=OneLineCommand)
@click.option("--minutes", type=click.IntRange(1, 1440), default=15, show_default=True,
              help="The window of the outcome counts.")
@click.option("--recount", is_flag=True, help="Count the jobs now (a scan of the table) instead of "
                                              "reading maintain()'s last count.")
@_options
def stats(ctx: click.Context, minutes: int, recount: bool, connection: str | None, schema: str | None,
          as_json: bool) -> None:
    """Jobs by task, queue and state, and outcomes per task over the last minutes."""
    counts = _rows(COUNT_COLUMNS, _run(ctx, connection, schema, "job_counts", (recount,)))
    outcomes = _rows(THROUGHPUT_COLUMNS, _run(ctx, connection, schema, "job_throughput", (minutes,)))
    if as_json:
        _emit(True, {"counts": counts, "throughput": outcomes}, [])
        return
    now = datetime.now(timezone.utc)
    lines = [f"jobs (counted {_age(counts[0]['counted_at'], now)} ago):" if counts else "no jobs"]
    if counts:
        lines += table(["TASK", "QUEUE", "STATE", "JOBS", "OLDEST WAITING"],
                       [[c["task_identifier"], c["queue_name"], c["state"], c["jobs"],
                         _age(c["waiting_since"], now)] for c in counts])
    sums: dict[str, list[int]] = {}
    for row in outcomes:
        total = sums.setdefault(row["task_identifier"], [0, 0, 0, 0])
        for i, name in enumerate(("completed", "retried", "failed", "cancelled")):
            total[i] += row[name]
    lines.append(f"outcomes in the last {minutes} min:" if sums else f"no outcomes in the last {minutes} min")
    if sums:
        lines += table(["TASK", "COMPLETED", "PER MIN", "RETRIED", "FAILED", "CANCELLED"],
                       [[task, c, f"{c / minutes:.1f}", r, f, x]
                        for task, (c, r, f, x) in sorted(sums.items())])
    _emit(False, None, lines)


COMMANDS = (jobs, queues, admin_cli.tasks, admin_cli.explain, add, workers, stats)

__all__ = ["COMMANDS", "add", "jobs", "queues", "show", "stats", "table", "workers"]
