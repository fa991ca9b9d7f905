"""Workflows: named steps (jobs) with dependencies and a compensation task each (SQL
start_workflow, list_workflows, workflow_steps; the model is in docs/workflows.md).

    order = (Workflow("order")
             .step("reserve", "inventory.reserve", {"sku": "A1"}, compensate="inventory.release")
             .step("charge", "payments.charge", {"cents": 1200}, depends_on=["reserve"],
                   compensate="payments.refund")
             .step("notify", "emails.notify", depends_on=["charge"]))
    workflow_id = start_workflow(conn, order)          # in conn's transaction, if one is open
    get_workflow(conn, workflow_id).state              # running, completed, compensating, ...

A step's handler reads what the steps it depends on returned with `helpers.parent_results()`.
When a step fails for good, the steps still running finish, then the compensations run one at
a time in reverse dependency order, for the completed steps and the failed one (in a chain, the
failed step's own first).
A compensation task's payload is {"workflow_id", "step", "payload" (the step's), "result"
(what the step returned; null for the failed step), "outcome" ("completed" or "failed")}.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import db, payloads, queries
from .queries import WORKFLOW_COLUMNS, WORKFLOW_STEP_COLUMNS, column_names
from .typed import TaskRef

if TYPE_CHECKING:
    import psycopg

STATES = ("running", "completed", "failed", "compensating", "compensated")


@dataclass(slots=True)
class Step:
    """One step of a workflow: a job of `task`, run once the steps it depends on completed."""

    name: str
    task: str
    payload: Any = None
    depends_on: list[str] = field(default_factory=list)
    compensate: str | None = None             # the task that undoes it
    compensate_max_attempts: int | None = None
    queue_name: str | None = None
    max_attempts: int | None = None
    priority: int | None = None
    run_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        spec = {"name": self.name, "task": self.task, "depends_on": list(self.depends_on)}
        for key in ("payload", "compensate", "compensate_max_attempts", "queue_name", "max_attempts",
                    "priority", "run_at"):
            value = getattr(self, key)
            if value is not None:
                spec[key] = value
        return spec


class Workflow:
    """A workflow's steps, in any order (the database orders them and refuses a cycle)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.steps: list[Step] = []

    def step(self, name: str, task: str | TaskRef[Any], payload: Any = None, *,
             depends_on: Sequence[str] = (), compensate: str | TaskRef[Any] | None = None,
             compensate_max_attempts: int | None = None, queue_name: str | None = None,
             max_attempts: int | None = None, priority: int | None = None,
             run_at: datetime | None = None) -> Workflow:
        """Adds a step; returns the workflow, so that steps chain."""
        if isinstance(depends_on, str):
            raise TypeError("depends_on is a list of step names, not one string")
        self.steps.append(Step(name, _task_name(task), payload, list(depends_on),
                               None if compensate is None else _task_name(compensate),
                               compensate_max_attempts, queue_name, max_attempts, priority, run_at))
        return self

    def as_json(self) -> str:
        return payloads.encode([step.as_json() for step in self.steps], where="workflow steps")


def _task_name(task: str | TaskRef[Any]) -> str:
    return task.identifier if isinstance(task, TaskRef) else task


@dataclass(slots=True)
class StepInfo:
    """A step as the database sees it: its state (pending, completed, failed, cancelled,
    compensating, compensated, compensation failed), its job and its compensation's."""

    name: str
    position: int
    state: str
    task_identifier: str
    job_id: int
    job_state: str | None          # None once the job has left (retention)
    depends_on: list[str]
    compensate: str | None
    compensation_job_id: int | None
    compensation_job_state: str | None
    result: Any


@dataclass(slots=True)
class WorkflowInfo:
    id: int
    name: str
    state: str
    steps: int
    steps_pending: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    reason: str | None


def start_workflow(conn: psycopg.Connection, workflow: Workflow, *, schema: str = "pgrun") -> int:
    """Adds every step's job in one statement; returns the workflow's id."""
    (workflow_id,) = conn.execute(queries.for_schema(schema).start_workflow,
                                  (workflow.name, workflow.as_json())).fetchone()
    return workflow_id


async def start_workflow_async(conn: psycopg.AsyncConnection, workflow: Workflow, *,
                               schema: str = "pgrun") -> int:
    cursor = await conn.execute(queries.for_schema(schema).start_workflow,
                                (workflow.name, workflow.as_json()))
    (workflow_id,) = await cursor.fetchone()
    return workflow_id


def list_workflows(conn: psycopg.Connection, state: str | None = None, limit: int = 100, *,
                   schema: str = "pgrun") -> list[WorkflowInfo]:
    """Workflows, newest first (only those in `state`, if given)."""
    rows = conn.execute(queries.for_schema(schema).list_workflows, (state, limit, None)).fetchall()
    return [WorkflowInfo(*row) for row in rows]


def get_workflow(conn: psycopg.Connection, workflow_id: int, *, schema: str = "pgrun") -> WorkflowInfo:
    """The workflow; LookupError if there is none with this id."""
    rows = conn.execute(queries.for_schema(schema).list_workflows, (None, 1, workflow_id)).fetchall()
    if not rows:
        raise LookupError(f"no workflow {workflow_id}")
    return WorkflowInfo(*rows[0])


def workflow_steps(conn: psycopg.Connection, workflow_id: int, *, schema: str = "pgrun") -> list[StepInfo]:
    """Its steps in their order; LookupError for an unknown workflow."""
    try:
        rows = conn.execute(queries.for_schema(schema).workflow_steps, (workflow_id,)).fetchall()
    except db.DatabaseError as error:
        if getattr(error, "sqlstate", None) == "P0002":
            raise LookupError(f"no workflow {workflow_id}") from None
        raise
    return [StepInfo(*row) for row in rows]


def as_document(info: WorkflowInfo, steps: list[StepInfo]) -> dict[str, Any]:
    """One workflow and its steps as JSON-ready data (the CLI's --json)."""
    document = {name: getattr(info, name) for name in column_names(WORKFLOW_COLUMNS)}
    document["steps"] = [{name: getattr(step, name) for name in column_names(WORKFLOW_STEP_COLUMNS)}
                         for step in steps]
    return document


def graph_layout(steps: list[dict[str, Any]], column: int = 190, row: int = 60) -> dict[str, Any]:
    """Where to draw each step (the dashboard's picture of a workflow): a column per level (a
    step stands right of every step it depends on), one row per step within its column, and a
    line from each step to each step that depends on it."""
    level: dict[str, int] = {}
    for step in sorted(steps, key=lambda s: s["position"]):   # positions are a topological order
        level[step["name"]] = 1 + max((level[d] for d in step["depends_on"] if d in level), default=-1)
    nodes, rows_used = {}, {}
    for step in sorted(steps, key=lambda s: s["position"]):
        n = rows_used[level[step["name"]]] = rows_used.get(level[step["name"]], -1) + 1
        nodes[step["name"]] = {**step, "x": 10 + level[step["name"]] * column, "y": 10 + n * row}
    edges = [(nodes[d]["x"] + column - 40, nodes[d]["y"] + 20, node["x"], node["y"] + 20)
             for node in nodes.values() for d in node["depends_on"] if d in nodes]
    return {"nodes": list(nodes.values()), "edges": edges,
            "width": 20 + (max(level.values(), default=0) + 1) * column,
            "height": 20 + max(rows_used.values(), default=0) * row + row}
