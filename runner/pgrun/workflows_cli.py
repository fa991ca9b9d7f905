"""`pgrun workflows` (newest first, --state to filter) and `pgrun workflows show ID` (its steps,
their jobs and compensations): SQL list_workflows and workflow_steps, read rights.

    pgrun workflows --state compensating
    pgrun workflows show 12 --json

Tables for people by default, one JSON document with `--json`. Bad input (an unknown id or
state) exits 2 with one line on stderr, as the other inspection commands do.
"""

from __future__ import annotations

import sys

import click

from .admin_cli import _JOB_ID, _emit, _options, _run
from .grant_cli import EXIT_USAGE, OneLineCommand, OneLineGroup
from .inspect_cli import _cell, _rows, table
from .queries import WORKFLOW_COLUMNS, WORKFLOW_STEP_COLUMNS
from .workflows import STATES


@click.group("workflows", cls=OneLineGroup, invoke_without_command=True)
@click.option("--state", type=click.Choice(STATES), help="Only workflows in this state.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True,
              help="At most this many.")
@_options
def workflows(ctx: click.Context, state: str | None, limit: int, connection: str | None, schema: str | None,
              as_json: bool) -> None:
    """List workflows, newest first; `show ID` for one's steps."""
    if ctx.invoked_subcommand is not None:
        return
    found = _rows(WORKFLOW_COLUMNS, _run(ctx, connection, schema, "list_workflows", (state, limit, None)))
    if as_json:
        _emit(True, {"workflows": found}, [])
        return
    headers = ["ID", "NAME", "STATE", "STEPS", "PENDING", "CREATED", "FINISHED", "REASON"]
    lines = table(headers, [[w["id"], w["name"], w["state"], w["steps"], w["steps_pending"], w["created_at"],
                             w["finished_at"], w["reason"]] for w in found]) if found else ["no workflows"]
    _emit(False, None, lines)


@workflows.command("show", cls=OneLineCommand)
@click.argument("workflow_id", metavar="ID", type=_JOB_ID)
@_options
def show(ctx: click.Context, workflow_id: int, connection: str | None, schema: str | None,
         as_json: bool) -> None:
    """One workflow: its state, and each step's state, job and compensation, in their order."""
    found = _rows(WORKFLOW_COLUMNS, _run(ctx, connection, schema, "list_workflows", (None, 1, workflow_id)))
    if not found:
        click.echo(f"pgrun: no workflow {workflow_id}", err=True)
        sys.exit(EXIT_USAGE)
    workflow = found[0]
    workflow["steps"] = _rows(WORKFLOW_STEP_COLUMNS,
                              _run(ctx, connection, schema, "workflow_steps", (workflow_id,)))
    if as_json:
        _emit(True, workflow, [])
        return
    lines = [f"workflow {workflow_id} ({workflow['name']}): {workflow['state']}"
             + (f": {workflow['reason']}" if workflow["reason"] else "")]
    headers = ["#", "STEP", "STATE", "TASK", "JOB", "JOB STATE", "AFTER", "COMPENSATE", "ITS JOB",
               "ITS STATE"]
    lines += table(headers,
                   [[s["position"], s["name"], s["state"], s["task_identifier"], s["job_id"], s["job_state"],
                     ", ".join(s["depends_on"]) or None, s["compensate"], s["compensation_job_id"],
                     s["compensation_job_state"]] for s in workflow["steps"]])
    lines.append(f"  created {_cell(workflow['created_at'])}, finished {_cell(workflow['finished_at'])}")
    _emit(False, None, lines)


COMMANDS = [workflows]
