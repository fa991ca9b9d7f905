"""Workflows with real workers (issue 14): the order workflow succeeding and compensating,
a worker SIGKILLed mid-workflow, durable steps surviving a kill, sleep_until."""

from __future__ import annotations

import signal
from datetime import datetime, timedelta, timezone

import pytest

from pgrun.workflows import Workflow, get_workflow, start_workflow, workflow_steps
from support import scalar, wait_until

TASKS = ("--tasks", "tasks.workflow_tasks")
# A killed worker's jobs are released after its lease runs out (20 s by default) by another
# worker's heartbeat: generous, for a loaded machine.
RELEASE_TIMEOUT = 60


def order(number: int, **charge: object) -> Workflow:
    return (Workflow("order")
            .step("reserve", "inventory.reserve", {"order": number}, compensate="inventory.release")
            .step("charge", "payments.charge", {"order": number, **charge}, depends_on=["reserve"],
                  compensate="payments.refund")
            .step("notify", "emails.notify", {"order": number}, depends_on=["charge"]))


def ran(conn) -> list[tuple[str, int, str]]:
    return conn.execute("select task, attempt, note from pgrun_test_results order by id").fetchall()


def state(conn, workflow_id: int) -> str:
    return get_workflow(conn, workflow_id).state


def test_the_order_workflow_runs_its_steps_in_order_and_completes(recording_workers, conn):
    workflow_id = start_workflow(conn, order(1))
    recording_workers.start(*TASKS)
    wait_until(lambda: state(conn, workflow_id) == "completed", timeout=30,
               message="the workflow to complete")
    assert ran(conn) == [("inventory.reserve", 1, "started"), ("payments.charge", 1, "started"),
                         ("emails.notify", 1, "started: c-1")]  # notify read charge's result
    assert [(s.name, s.state) for s in workflow_steps(conn, workflow_id)] == [
        ("reserve", "completed"), ("charge", "completed"), ("notify", "completed")]
    assert workflow_steps(conn, workflow_id)[1].result == {"charge": "c-1", "reservation": "r-1"}


def test_a_charge_failing_for_good_is_refunded_then_released_and_the_workflow_compensated(
        recording_workers, conn):
    workflow_id = start_workflow(conn, order(2, decline=True))
    recording_workers.start(*TASKS)
    wait_until(lambda: state(conn, workflow_id) == "compensated", timeout=30,
               message="the workflow to be compensated")
    assert ran(conn) == [("inventory.reserve", 1, "started"), ("payments.charge", 1, "started"),
                         ("payments.refund", 1, "started: charge failed"),
                         ("inventory.release", 1, "started: r-2")]
    info = get_workflow(conn, workflow_id)
    assert info.reason == "step charge failed"
    assert [(s.name, s.state) for s in workflow_steps(conn, workflow_id)] == [
        ("reserve", "compensated"), ("charge", "compensated"), ("notify", "cancelled")]
    assert scalar(conn, "select cancel_reason from pgrun.jobs where task_identifier = 'emails.notify'") == (
        f"job {workflow_steps(conn, workflow_id)[1].job_id}, which it depends on, failed")


@pytest.mark.slow
def test_a_worker_killed_mid_workflow_only_the_step_in_flight_runs_twice(recording_workers, conn):
    workflow_id = start_workflow(conn, order(3, hang_first=True))
    doomed = recording_workers.start(*TASKS)
    wait_until(lambda: ("payments.charge", 1, "started") in ran(conn), timeout=30,
               message="charge's first attempt to start")
    rescuer = recording_workers.start(*TASKS)
    doomed.signal(signal.SIGKILL)
    doomed.wait(10)
    wait_until(lambda: state(conn, workflow_id) == "completed", timeout=RELEASE_TIMEOUT, interval=0.2,
               message="the workflow to finish on the other worker")
    assert ran(conn) == [("inventory.reserve", 1, "started"), ("payments.charge", 1, "started"),
                         ("payments.charge", 2, "started"), ("emails.notify", 1, "started: c-3")]
    rescuer.wait_for_line("stopped sending heartbeats; released 1 of its job(s)")


@pytest.mark.slow
def test_a_job_killed_after_two_durable_steps_does_not_run_them_again(recording_workers, conn):
    job_id = scalar(conn, "select id from pgrun.add_job('three_steps')")
    doomed = recording_workers.start(*TASKS)
    wait_until(lambda: ("three_steps", 1, "hanging") in ran(conn), timeout=30, message="two steps done")
    rescuer = recording_workers.start(*TASKS)
    doomed.signal(signal.SIGKILL)
    doomed.wait(10)
    wait_until(lambda: any(note.startswith("finished") for _, _, note in ran(conn)), timeout=RELEASE_TIMEOUT,
               interval=0.2, message="the job to finish on the other worker")
    assert ran(conn) == [("three_steps", 1, "one"), ("three_steps", 1, "two"), ("three_steps", 1, "hanging"),
                         ("three_steps", 2, "three"),
                         ("three_steps", 2, "finished: one done, two done, three done")]
    rescuer.wait_for_line(f"job {job_id} (three_steps) completed on attempt 2/25")


def test_sleep_until_ends_the_attempt_and_resumes_the_job_then_without_using_an_attempt(
        recording_workers, conn):
    recording_workers.start(*TASKS, "--concurrency", "1")
    # the worker up first: a start slower than the sleep (a loaded machine) would find it over
    wait_until(lambda: scalar(conn, "select count(*) from pgrun._private_workers "
                                    "where idle_since is not null"),
               timeout=30, message="the worker to be up and idle")
    until = datetime.now(timezone.utc) + timedelta(seconds=2)
    job_id = scalar(conn, "select id from pgrun.add_job('sleeper', json_build_object('until', %s::text))",
                    (until.isoformat(),))
    wait_until(lambda: scalar(conn, "select state from pgrun.jobs where id = %s", (job_id,)) == "scheduled",
               timeout=30, message="the job to sleep")
    assert scalar(conn, "select attempts from pgrun.jobs where id = %s", (job_id,)) == 0  # none used up
    run_at = scalar(conn, "select run_at from pgrun.jobs where id = %s", (job_id,))
    assert run_at >= until - timedelta(seconds=1)  # (the database's clock and ours may differ a little)
    wait_until(lambda: ("sleeper", 1, "woke") in ran(conn), timeout=30, message="the job to wake")
    assert ran(conn) == [("sleeper", 1, "run"), ("sleeper", 1, "run"), ("sleeper", 1, "woke")]


def test_durable_steps_and_parent_results_in_an_isolated_process(recording_workers, conn):
    workflow_id = start_workflow(conn, order(4))
    job_id = scalar(conn, "select id from pgrun.add_job('steps_then_fail', max_attempts => 2)")
    recording_workers.start(*TASKS, "--isolation", "process")
    wait_until(lambda: state(conn, workflow_id) == "completed", timeout=30,
               message="the workflow to complete")
    wait_until(lambda: ("steps_then_fail", 2, "finished: one") in ran(conn), timeout=30,
               message="the retry to finish")
    assert [r for r in ran(conn) if r[0] == "steps_then_fail"] == [
        ("steps_then_fail", 1, "one"), ("steps_then_fail", 2, "two"), ("steps_then_fail", 2, "finished: one")]
    assert ("emails.notify", 1, "started: c-4") in ran(conn)
    assert scalar(conn, "select count(*) from pgrun.job_steps(%s)", (job_id,)) == 2
