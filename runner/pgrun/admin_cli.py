"""The control commands: `pgrun jobs cancel|retry ID...`, `pgrun queues pause|resume NAME`,
`pgrun tasks pause|resume NAME` and `pgrun explain ID` (SQL cancel_jobs, retry_jobs,
pause_queue, resume_queue, pause_task, resume_task, explain_job). Run them as a role with
pgrun's admin rights (`explain` needs only read rights).

    pgrun explain 42                 # why job 42 is not running now
    pgrun queues pause emails        # its waiting jobs stay; running ones finish
    pgrun jobs retry 42 43 --json

Output is for people by default and one JSON document with `--json`. Bad input (an id that
is not a positive integer, an unknown job or queue, an empty name) exits 2 with one line on
stderr, and a job command with an unknown id changes nothing. Connection options are those
of the main command (`--connection`, `--schema`), also accepted after the subcommand.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime

import click

from .enqueue import jobs_of
from .grant_cli import EXIT_USAGE, OneLineCommand, connection_options, run_statement
from .job import Job

# bad argument, null where a value is needed, no such job or queue, a number out of range
_USAGE_STATES = frozenset({"22023", "22004", "P0002", "22003"})
_JOB_ID = click.IntRange(min=1, max=2**63 - 1)
_FINAL = ("completed", "failed", "cancelled")


def _options(command):
    command = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")(command)
    return click.pass_context(connection_options(command))


def _run(ctx: click.Context, connection: str | None, schema: str | None, name: str, params: tuple) -> list:
    return run_statement(ctx, connection, schema, [(name, params)], _USAGE_STATES)[1][0]


def _json_value(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _emit(as_json: bool, document: object, lines: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(document, default=_json_value))
    else:
        for line in lines:
            click.echo(line)


def _states_before(ctx: click.Context, connection: str | None, schema: str | None,
                   job_ids: tuple[int, ...]) -> dict[int, str]:
    """Each job's state; exits 2 (changing nothing) when one of them does not exist."""
    states = dict(_run(ctx, connection, schema, "job_states", (list(job_ids),)))
    unknown = [i for i in dict.fromkeys(job_ids) if i not in states]
    if unknown:
        click.echo(f"pgrun: no job {', '.join(map(str, unknown))} (nothing was changed)", err=True)
        sys.exit(EXIT_USAGE)
    return states


def _job_action(ctx: click.Context, connection: str | None, schema: str | None, as_json: bool,
                job_ids: tuple[int, ...], statement: str, params: tuple, describe) -> None:
    before = _states_before(ctx, connection, schema, job_ids)
    changed = {job.id: job for job in jobs_of(_run(ctx, connection, schema, statement, params))}
    document, lines = [], []
    for job_id in dict.fromkeys(job_ids):
        job = changed.get(job_id)
        document.append({"id": job_id, "before": before[job_id], "state": job.state if job else None,
                         "changed": job is not None})
        lines.append(f"job {job_id}: {describe(before[job_id], job)}")
    _emit(as_json, document, lines)


# ------------------------------------------------------------------- jobs

@click.group("jobs")
def jobs() -> None:
    """Act on jobs by id."""


def _describe_cancel(before: str, job: Job | None) -> str:
    if job is None:
        return (f"left as it was (it is {before})" if before in _FINAL
                else "cancelled (and removed: retention keeps no cancelled job)")
    if job.state == "running":
        return "running: its worker is asked to stop it; it ends cancelled"
    return f"cancelled (it was {before})"


@jobs.command("cancel", cls=OneLineCommand)
@click.argument("job_ids", metavar="ID...", nargs=-1, required=True, type=_JOB_ID)
@click.option("--reason", help="Why (kept with the job, up to 1000 characters).")
@_options
def cancel(ctx: click.Context, job_ids: tuple[int, ...], reason: str | None, connection: str | None,
           schema: str | None, as_json: bool) -> None:
    """Cancel jobs: a waiting job ends cancelled at once, a running one when its worker stops it."""
    _job_action(ctx, connection, schema, as_json, job_ids, "cancel_jobs", (list(job_ids), reason),
                _describe_cancel)


def _describe_retry(before: str, job: Job | None) -> str:
    if job is None:
        return f"left as it was (it is {before}; only failed and cancelled jobs are retried)"
    return f"runs again now (it was {before}; attempts reset)"


@jobs.command("retry", cls=OneLineCommand)
@click.argument("job_ids", metavar="ID...", nargs=-1, required=True, type=_JOB_ID)
@_options
def retry(ctx: click.Context, job_ids: tuple[int, ...], connection: str | None, schema: str | None,
          as_json: bool) -> None:
    """Run failed or cancelled jobs again now, their attempts reset (errors are kept)."""
    _job_action(ctx, connection, schema, as_json, job_ids, "retry_jobs", (list(job_ids),), _describe_retry)


# ---------------------------------------------------------- queues, tasks

def _pause_group(kind: str, what: str) -> click.Group:
    @click.group(f"{kind}s", help=f"Pause or resume a {what}.")
    def group() -> None:
        pass

    def make(paused: bool) -> None:
        verb = "pause" if paused else "resume"

        @group.command(verb, cls=OneLineCommand,
                       help=(f"Stop claims taking the jobs of {what} NAME: they wait, running ones finish."
                             if paused else f"Let workers take the jobs of {what} NAME again, at once."))
        @click.argument("name")
        @_options
        def command(ctx: click.Context, name: str, connection: str | None, schema: str | None,
                    as_json: bool) -> None:
            rows = _run(ctx, connection, schema, f"{verb}_{kind}", (name,))
            changed = bool(rows[0][0])
            done = "paused" if paused else "resumed"
            line = f"{kind} {name} {done}" if changed else f"{kind} {name} was already {done}"
            _emit(as_json, {kind: name, "paused": paused, "changed": changed}, [line])

    make(True)
    make(False)
    return group


queues = _pause_group("queue", "named queue")
tasks = _pause_group("task", "task")


# ---------------------------------------------------------------- explain

@click.command("explain", cls=OneLineCommand)
@click.argument("job_id", metavar="ID", type=_JOB_ID)
@_options
def explain(ctx: click.Context, job_id: int, connection: str | None, schema: str | None,
            as_json: bool) -> None:
    """Say why job ID is not running now (and until when, if known)."""
    state, reason, until = _run(ctx, connection, schema, "explain_job", (job_id,))[0]
    lines = [f"job {job_id}: {reason}"] + ([f"until {until.isoformat()}"] if until else [])
    _emit(as_json, {"id": job_id, "state": state, "reason": reason, "until": until}, lines)


COMMANDS = (jobs, queues, tasks, explain)

__all__ = ["COMMANDS", "cancel", "explain", "jobs", "queues", "retry", "tasks"]
