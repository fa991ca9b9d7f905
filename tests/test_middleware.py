"""Middleware: the order of the chain around plain and async handlers, pgrun's own log
context outermost, what a middleware may change, and refusals."""

from __future__ import annotations

from contextvars import ContextVar

import pytest

import pgrun
from pgrun.errors import ConfigurationError

CALLS: list[str] = []
TENANT: ContextVar[str | None] = ContextVar("tenant", default=None)


def recorder(name):
    async def middleware(job, call_next):
        context = pgrun.current_job()
        CALLS.append(f"{name} before {job.task_identifier} (log context: job {context and context.job_id})")
        try:
            return await call_next()
        finally:
            CALLS.append(f"{name} after")
    return middleware


async def set_tenant(job, call_next):
    token = TENANT.set(job.payload.get("tenant"))
    try:
        return await call_next()
    finally:
        TENANT.reset(token)


async def forgive_lookup_errors(job, call_next):
    try:
        return await call_next()
    except LookupError as error:
        return {"forgiven": str(error)}


async def refuse_everything(job, call_next):
    raise PermissionError("not today")


async def async_task(payload, helpers):
    CALLS.append(f"async handler sees tenant {TENANT.get()}")
    return {"handled": "async"}


def plain_task(payload, helpers):
    CALLS.append(f"plain handler sees tenant {TENANT.get()}")   # in its thread
    if payload.get("missing"):
        raise KeyError(payload["missing"])
    return {"handled": "plain"}


TASKS = {"async_task": async_task, "plain_task": plain_task}


@pytest.mark.parametrize("task", ["async_task", "plain_task"])
def test_the_chain_runs_in_list_order_around_the_handler(dsn, task):
    CALLS.clear()
    with pgrun.WorkerUtils(dsn) as utils:
        job = utils.add_job(task, {"tenant": "acme"})
    chain = [recorder("outer"), set_tenant, recorder("inner")]
    stats = pgrun.run_once(TASKS, connection=dsn, middleware=chain)
    assert stats.completed == 1
    kind = task.split("_")[0]
    assert CALLS == [
        f"outer before {task} (log context: job {job.id})",   # pgrun's own middleware is outside
        f"inner before {task} (log context: job {job.id})",
        f"{kind} handler sees tenant acme",                   # a ContextVar set by a middleware
        "inner after",
        "outer after",
    ]


def test_a_middleware_can_turn_an_error_into_a_result(dsn, conn):
    conn.execute("select pgrun.set_retention(completed => '1 day', failed => null, cancelled => null)")
    with pgrun.WorkerUtils(dsn) as utils:
        job = utils.add_job("plain_task", {"missing": "user 7"})
    stats = pgrun.run_once(TASKS, connection=dsn, middleware=[forgive_lookup_errors])
    assert (stats.completed, stats.failed) == (1, 0)
    assert conn.execute("select result from pgrun.jobs where id = %s", (job.id,)).fetchone()[0] == {
        "forgiven": "'user 7'"}


def test_a_middleware_that_raises_fails_the_job_without_running_the_handler(dsn, conn):
    CALLS.clear()
    with pgrun.WorkerUtils(dsn) as utils:
        job = utils.add_job("async_task", {})
    stats = pgrun.run_once(TASKS, connection=dsn, middleware=[refuse_everything])
    assert stats.failed == 1 and CALLS == []
    last_error = conn.execute("select last_error from pgrun.jobs where id = %s", (job.id,)).fetchone()[0]
    assert last_error.startswith("PermissionError: not today")


def test_a_middleware_must_be_async():
    def plain(job, call_next):
        return call_next()
    with pytest.raises(ConfigurationError, match="is not async"):
        pgrun.make_worker(TASKS, connection="dbname=unused", middleware=[plain])
