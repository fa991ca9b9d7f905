"""A handler's own say over its job (issue 9): `raise pgrun.Snooze(seconds)` runs
it again later without using an attempt, `raise pgrun.PermanentFailure(...)`
fails it for good at once; and `job:dead` fires in the worker when the database
answers that a job failed for good. Embedded workers (events are Python's)."""

from __future__ import annotations

import asyncio

import pytest

import pgrun
from fault_support import db_wait, embedded
from support import scalar, wait_until


def _add(conn, task: str, **options) -> int:
    extra = "".join(f", {name} => %s" for name in options)
    return scalar(conn, f"select id from pgrun.add_job(%s, '{{}}'::json{extra})", (task, *options.values()))


def _row(conn, job_id: int):
    return conn.execute("select state, attempts, last_error from pgrun.jobs where id = %s",
                        (job_id,)).fetchone()


def _dead_events() -> tuple[pgrun.Events, list[pgrun.Event], asyncio.Event]:
    events, seen, fired = pgrun.Events(), [], asyncio.Event()

    @events.on("job:dead")
    def dead(event):
        seen.append(event)
        fired.set()

    return events, seen, fired


def test_job_dead_fires_when_the_last_attempt_fails(dsn, conn):
    def broken(payload, helpers):
        raise RuntimeError("the partner API said no")

    async def main():
        events, seen, fired = _dead_events()
        async with embedded({"broken": broken}, dsn, events=events):
            job_id = _add(conn, "broken", max_attempts=1)
            await asyncio.wait_for(fired.wait(), 15)
        [event] = seen
        assert (event.job.id, type(event.error), event.data["attempts"]) == (job_id, RuntimeError, 1)
        assert "the partner API said no" in event.data["message"]
        assert _row(conn, job_id)[0] == "failed"

    asyncio.run(main())


def test_a_permanent_failure_ends_failed_after_one_attempt(dsn, conn):
    def refuses(payload, helpers):
        raise pgrun.PermanentFailure("the account was closed")

    async def main():
        events, seen, fired = _dead_events()
        async with embedded({"refuses": refuses}, dsn, events=events) as worker:
            job_id = _add(conn, "refuses", max_attempts=5)
            await asyncio.wait_for(fired.wait(), 15)
            assert worker.stats.permanently_failed == 1
        state, attempts, last_error = _row(conn, job_id)
        assert (state, attempts) == ("failed", 1)
        assert "the account was closed" in last_error
        assert seen[0].job.id == job_id

    asyncio.run(main())


def test_a_snooze_runs_the_job_again_later_and_keeps_its_attempt_count(dsn, conn):
    calls: list[int] = []
    done = asyncio.Event()

    async def naps(payload, helpers):
        calls.append(helpers.job.attempts)
        if len(calls) < 3:
            raise pgrun.Snooze(0)
        done.set()

    async def main():
        snoozes: list[pgrun.Event] = []
        events = pgrun.Events()
        events.on("job:snooze", snoozes.append)
        async with embedded({"naps": naps}, dsn, events=events) as worker:
            _add(conn, "naps", max_attempts=1)
            await asyncio.wait_for(done.wait(), 15)
            await db_wait(lambda: worker.stats.completed == 1, message="the job to complete")
            assert worker.stats.snoozed == 2
        # three runs of a job that may have one attempt: the snoozes did not count
        assert calls == [1, 1, 1]
        assert [e.data["seconds"] for e in snoozes] == [0.0, 0.0]

    asyncio.run(main())


def test_a_snooze_into_the_future_leaves_the_job_scheduled(dsn, conn):
    async def later(payload, helpers):
        raise pgrun.Snooze(3600)

    async def main():
        async with embedded({"later": later}, dsn):
            job_id = _add(conn, "later")
            await db_wait(lambda: _row(conn, job_id)[0] == "scheduled", message="the job to be snoozed")
        wait = scalar(conn, "select extract(epoch from run_at - now()) from pgrun.jobs where id = %s",
                      (job_id,))
        assert 3500 < wait <= 3600
        assert _row(conn, job_id)[1] == 0  # its one attempt given back

    asyncio.run(main())


@pytest.mark.parametrize("seconds", [-1, "5", True, float("nan")])
def test_snooze_refuses_what_is_not_a_number_of_seconds(seconds):
    with pytest.raises(ValueError, match="Snooze takes a number of seconds, 0 or more"):
        pgrun.Snooze(seconds)


def test_snooze_and_permanent_failure_come_back_from_an_isolated_handler(conn, recording_workers):
    recording_workers.start("--tasks", "tasks.stoppable")
    snoozed = _add(conn, "snoozes_process")
    refused = _add(conn, "refuses_process", max_attempts=5)
    wait_until(lambda: _row(conn, snoozed)[0] == "scheduled", message="the isolated job to snooze")
    wait_until(lambda: _row(conn, refused)[0] == "failed", message="the isolated job to fail for good")
    assert _row(conn, snoozed)[1] == 0
    state, attempts, last_error = _row(conn, refused)
    assert attempts == 1 and last_error.startswith("PermanentFailure: refused in its process")


def test_a_dead_letter_carries_the_whole_history_and_job_dead_fires(dsn, conn):
    letters: list[dict] = []
    arrived = asyncio.Event()

    def flaky(payload, helpers):
        raise RuntimeError(f"attempt {helpers.job.attempts} failed")

    async def support(payload, helpers):
        letters.append(payload["dead_job"])
        arrived.set()

    async def main():
        with pgrun.WorkerUtils(dsn) as utils:
            utils.set_dead_letter("support", task_identifier="flaky")
        events, seen, fired = _dead_events()
        async with embedded({"flaky": flaky, "support": support}, dsn, events=events):
            job_id = _add(conn, "flaky", max_attempts=2)
            await db_wait(lambda: _row(conn, job_id)[0] == "retryable", message="the first failure")
            conn.execute("select pgrun.reschedule_jobs(array[%s]::bigint[], run_at => now())", (job_id,))
            await asyncio.wait_for(fired.wait(), 15)
            await asyncio.wait_for(arrived.wait(), 15)
        [event] = seen
        assert event.job.id == job_id and str(event.error) == "attempt 2 failed"
        [dead] = letters
        assert (dead["id"], dead["task_identifier"], dead["attempts"]) == (job_id, "flaky", 2)
        assert [e["attempt"] for e in dead["errors"]] == [1, 2]
        assert [e["error"].splitlines()[0] for e in dead["errors"]] == [
            "RuntimeError: attempt 1 failed", "RuntimeError: attempt 2 failed"]
        assert dead["last_error"].startswith("RuntimeError: attempt 2 failed")

    asyncio.run(main())
