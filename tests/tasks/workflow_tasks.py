"""Tasks for the workflow tests: the order workflow (reserve, charge, notify; refund and
release to compensate) and a job of three durable steps. Each records what it did in
pgrun_test_results (created by the tests), so a test can read what ran, how often, in what order."""

from __future__ import annotations

import time

from pgrun import PermanentFailure, task

_INSERT = "insert into pgrun_test_results (job_id, task, attempt, note) values (%s, %s, %s, %s)"


def _record(helpers, note: str = "") -> None:
    with helpers.connection() as conn:
        conn.execute(_INSERT, (helpers.job.id, helpers.job.task_identifier, helpers.job.attempts, note))


async def _record_async(helpers, note: str) -> None:
    async with helpers.connection() as conn:
        await conn.execute(_INSERT, (helpers.job.id, helpers.job.task_identifier, helpers.job.attempts, note))


@task("inventory.reserve")
def reserve(payload, helpers):
    _record(helpers, "started")
    return {"reservation": f"r-{payload['order']}"}


@task("payments.charge")
def charge(payload, helpers):
    _record(helpers, "started")
    if payload.get("decline"):
        raise PermanentFailure("card declined")
    if payload.get("hang_first") and helpers.job.attempts == 1:
        time.sleep(3600)   # the test kills the worker here
    reservation = next(iter(helpers.parent_results().values()))["reservation"]
    return {"charge": f"c-{payload['order']}", "reservation": reservation}


@task("emails.notify")
async def notify(payload, helpers):
    parents = await helpers.parent_results()
    await _record_async(helpers, "started: " + ",".join(r["charge"] for r in parents.values()))


@task("payments.refund")
def refund(payload, helpers):
    _record(helpers, f"started: {payload['step']} {payload['outcome']}")


@task("inventory.release")
def release(payload, helpers):
    _record(helpers, f"started: {payload['result']['reservation']}")


@task("three_steps")
def three_steps(payload, helpers):
    """Three durable steps; its first attempt hangs after the second (the test kills the worker)."""
    def run(name: str) -> str:
        _record(helpers, name)
        return f"{name} done"

    one = helpers.step("one", run, "one")
    two = helpers.step("two", run, "two")
    if helpers.job.attempts == 1:
        _record(helpers, "hanging")
        time.sleep(3600)
    three = helpers.step("three", run, "three")
    _record(helpers, f"finished: {one}, {two}, {three}")


@task("sleeper")
async def sleeper(payload, helpers):
    """Sleeps (a snooze) until the payload's moment, then records that it woke."""
    await _record_async(helpers, "run")
    await helpers.sleep_until(payload["until"])
    await _record_async(helpers, "woke")


@task("steps_then_fail")
def steps_then_fail(payload, helpers):
    """Records step one, fails its first attempt, then does step two: the retry skips step one."""
    one = helpers.step("one", lambda: _record(helpers, "one") or {"at": "one"})
    if helpers.job.attempts == 1:
        raise RuntimeError("fails after step one")
    helpers.step("two", lambda: _record(helpers, "two"))
    _record(helpers, f"finished: {one['at']}")
