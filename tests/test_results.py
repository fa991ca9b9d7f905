"""Results: get_result, and wait_for, which sleeps on LISTEN instead of polling."""

from __future__ import annotations

import asyncio
import threading
import time

import psycopg
import pytest

import pgrun
from pgrun import JobResult, WaitTimeout, WorkerUtils

WORKER = "results-test-worker"


def claim(conn: psycopg.Connection, worker: str = WORKER) -> dict[int, int]:
    """Registers `worker` and claims what it can: {job id: lease}."""
    conn.execute("select pgrun.register_worker(%s)", (worker,))
    rows = conn.execute("select id, lease from pgrun.claim_jobs(%s, 10) where id is not null",
                        (worker,)).fetchall()
    return dict(rows)


def complete(conn: psycopg.Connection, leases: dict[int, int], result: str = '{"ok": 1}',
             worker: str = WORKER) -> None:
    ids = list(leases)
    conn.execute("select * from pgrun.complete_attempts(%s, %s, %s, %s::jsonb[])",
                 (worker, ids, [leases[i] for i in ids], [result] * len(ids)))


class Later(threading.Thread):
    """Runs `action(conn)` on a connection of its own `delay` seconds after start; records
    when it committed."""

    def __init__(self, dsn: str, delay: float, action) -> None:
        super().__init__(daemon=True)
        self.dsn, self.delay, self.action = dsn, delay, action
        self.done_at: float | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                time.sleep(self.delay)
                self.action(conn)
                self.done_at = time.monotonic()
        except BaseException as error:  # reported by the test
            self.error = error


def waiters(conn: psycopg.Connection) -> int:
    return conn.execute("select count(*) from pgrun._private_job_waiters").fetchone()[0]


def test_wait_for_returns_the_result_as_soon_as_the_job_completes(dsn, conn):
    with WorkerUtils(dsn) as utils:
        job = utils.add_job("t", {"n": 1})
        leases = claim(conn)
        assert list(leases) == [job.id]
        completer = Later(dsn, 0.3, lambda c: complete(c, leases, '{"ok": 1}'))
        started = time.monotonic()
        completer.start()
        result = utils.wait_for(job.id, timeout=10)
        returned = time.monotonic()
        completer.join()
        assert completer.error is None
        assert result == JobResult("completed", {"ok": 1}, None, result.finished_at)
        assert result.ok and result.final and result.finished_at is not None
        # it woke on the notification, not on a poll: well under any poll interval
        assert completer.done_at is not None
        assert returned - completer.done_at < 0.25, returned - completer.done_at
        assert returned - started < 1.0
        # the completed job is kept a while for whoever waited, then readable again
        assert utils.get_result(job.id) == result
        # nothing left behind: no waiter rows, no LISTEN on the utils connection
        assert waiters(conn) == 0
        assert utils.connection.execute("select count(*) from pg_listening_channels()").fetchone()[0] == 0


def test_wait_for_on_an_async_utils(dsn, conn):
    async def main():
        async with pgrun.AsyncWorkerUtils(dsn) as utils:
            job = await utils.add_job("t")
            leases = claim(conn)
            completer = Later(dsn, 0.3, lambda c: complete(c, leases, '[1, 2]'))
            completer.start()
            result = await utils.wait_for(job.id, timeout=10)
            returned = time.monotonic()
            completer.join()
            assert completer.error is None
            assert returned - completer.done_at < 0.25
            assert (result.state, result.result) == ("completed", [1, 2])
            assert await utils.get_result(job.id) == result
            with pytest.raises(LookupError):
                await utils.wait_for(job.id + 1000, timeout=1)
            with pytest.raises(WaitTimeout):
                await utils.wait_for((await utils.add_job("t")).id, timeout=0.2)

    asyncio.run(main())
    assert waiters(conn) == 0


def test_a_failed_job_is_returned_not_raised(dsn, conn):
    with WorkerUtils(dsn) as utils:
        job = utils.add_job("t")
        failer = Later(dsn, 0.2, lambda c: c.execute(
            "select pgrun.permanently_fail_jobs(array[%s]::bigint[], 'given up')", (job.id,)))
        failer.start()
        result = utils.wait_for(job.id, timeout=10)
        failer.join()
        assert failer.error is None
        assert (result.state, result.ok, result.final) == ("failed", False, True)
        assert result.last_error == "given up"
        assert result.result is None


def test_an_attempt_that_will_be_retried_does_not_end_the_wait(dsn, conn):
    with WorkerUtils(dsn) as utils:
        job = utils.add_job("t", max_attempts=2)

        def fail_then_complete(c):
            leases = claim(c)
            c.execute("select * from pgrun.fail_attempts(%s, %s, %s, array['boom'])",
                      (WORKER, list(leases), list(leases.values())))
            time.sleep(0.3)  # the waiter hears of the retryable end and waits on
            c.execute("select pgrun.reschedule_jobs(array[%s]::bigint[], run_at => now())", (job.id,))
            complete(c, claim(c), '"second time"')

        worker = Later(dsn, 0.2, fail_then_complete)
        worker.start()
        result = utils.wait_for(job.id, timeout=10)
        worker.join()
        assert worker.error is None
        assert (result.state, result.result, result.last_error) == ("completed", "second time", "boom")


def test_wait_for_times_out_with_the_state_of_the_job(dsn, conn):
    with WorkerUtils(dsn) as utils:
        job = utils.add_job("t")
        started = time.monotonic()
        with pytest.raises(WaitTimeout) as caught:
            utils.wait_for(job.id, timeout=0.3)
        elapsed = time.monotonic() - started
        assert isinstance(caught.value, TimeoutError)
        assert (caught.value.job_id, caught.value.state) == (job.id, "available")
        assert "available" in str(caught.value)
        assert 0.3 <= elapsed < 1.5
        assert waiters(conn) == 0
        assert utils.connection.execute("select count(*) from pg_listening_channels()").fetchone()[0] == 0
        # the connection is fine for what comes next
        assert utils.get_result(job.id).state == "available"


def test_unknown_jobs(dsn, conn):
    with WorkerUtils(dsn) as utils:
        assert utils.get_result(123456) is None
        with pytest.raises(LookupError, match="job 123456 is unknown or already removed"):
            utils.wait_for(123456, timeout=5)
        assert waiters(conn) == 0


def test_a_job_completed_without_retention_before_anyone_watched_is_gone(dsn, conn):
    with WorkerUtils(dsn) as utils:
        job = utils.add_job("t")
        complete(conn, claim(conn))
        assert utils.get_result(job.id) is None
        started = time.monotonic()
        with pytest.raises(LookupError, match="retention"):
            utils.wait_for(job.id, timeout=5)
        assert time.monotonic() - started < 1  # no waiting for a job that is gone


def test_a_job_retention_keeps_is_answered_at_once(dsn, conn):
    conn.execute("select pgrun.set_retention(interval '1 day', null, null, task_identifier => 't')")
    with WorkerUtils(dsn) as utils:
        job = utils.add_job("t")
        complete(conn, claim(conn), '{"kept": true}')
        started = time.monotonic()
        result = utils.wait_for(job.id, timeout=5)
        assert time.monotonic() - started < 1
        assert result.result == {"kept": True}


def test_watching_in_the_adding_transaction_keeps_a_fast_result(dsn, conn):
    """The race wait_for alone cannot close: the job ends before wait_for watches it."""
    with psycopg.connect(dsn) as client:  # not autocommit
        with client.transaction():
            job = pgrun.add_job(client, "t")
            pgrun.watch_jobs(client, [job.id])
        complete(conn, claim(conn), '"fast"')
        result = pgrun.wait_for(client, job.id, timeout=5)
        assert (result.state, result.result) == ("completed", "fast")
        assert pgrun.get_result(client, job.id) == result
    assert waiters(conn) == 0


def test_wait_for_refuses_a_connection_inside_a_transaction(dsn):
    with psycopg.connect(dsn) as client:
        job = pgrun.add_job(client, "t")  # opens a transaction, not committed
        with pytest.raises(RuntimeError, match="autocommit"):
            pgrun.wait_for(client, job.id, timeout=1)
