"""Process isolation (runner/pgrun/isolation.py), with real child processes: a
result and an error come back, a handler that ignores SIGTERM is killed after the
grace and its slot works again, a memory hog fails with a clear error while the
worker lives, a handler a child cannot import is refused at load, and real
workers run isolated jobs end to end."""

from __future__ import annotations

import asyncio
import logging
import os
import time

import pytest

import pgrun
from fault_support import db_wait, embedded
from pgrun.errors import ConfigurationError, HandlerProcessDied, MemoryLimitExceeded, TaskModuleError
from pgrun.isolation import KILLED, RETURNED, ProcessPool, run_in_process
from pgrun.tasks import load_tasks
from pgrun.text import error_text
from pgrun.worker import Worker
from support import scalar, wait_until
from tasks import isolated

CONTEXT = {"conninfo": "", "schema": "pgrun", "worker_id": "pgrun-test-isolation"}


def _info(task: str = "echo", job_id: int = 7) -> dict:
    return {"id": job_id, "queue_name": None, "task_identifier": task, "payload": None, "priority": 0,
            "run_at": None, "attempts": 1, "max_attempts": 3, "last_error": None, "created_at": None,
            "updated_at": None, "key": None, "locked_at": None, "locked_by": None, "revision": 0,
            "flags": None}


def _with_pool(body):
    async def main():
        pool = ProcessPool(CONTEXT, max_idle=2)
        try:
            return await body(pool)
        finally:
            pool.close()
    return asyncio.run(main())


def test_a_result_and_the_handlers_log_lines_come_back_from_the_child(caplog):
    caplog.set_level(logging.INFO, logger="pgrun.task")
    value = asyncio.run(run_in_process(isolated.echo, {"n": 1}, _info()))
    assert value["payload"] == {"n": 1} and value["job"] == 7
    assert value["pid"] != os.getpid()
    assert "job 7 (echo): echoing {'n': 1}" in caplog.messages


def test_the_handlers_error_is_raised_again_with_the_childs_traceback():
    with pytest.raises(isolated.Refused, match="no thanks: busy") as caught:
        asyncio.run(run_in_process(isolated.fails, {"why": "busy"}, _info("fails")))
    text = error_text(caught.value)
    assert text.startswith("Refused: no thanks: busy\n")
    assert 'raise Refused(f"no thanks: {payload' in text and "tasks/isolated.py" in text


def test_an_idle_child_is_reused_for_the_next_call():
    async def body(pool):
        first = await (await pool.start(isolated.echo, 1, _info())).result()
        second = await (await pool.start(isolated.echo, 2, _info())).result()
        return first["pid"], second["pid"], pool.started
    first, second, started = _with_pool(body)
    assert first == second and started == 1


def test_sigterm_sets_helpers_cancelled_and_the_handler_returns():
    async def body(pool):
        call = await pool.start(isolated.waits_for_cancel, None, _info("waits_for_cancel"))
        return await call.stop(10), await call.result()
    assert _with_pool(body) == (RETURNED, {"cancelled": True})


def test_a_handler_that_ignores_sigterm_is_killed_after_the_grace_and_the_slot_works_again(tmp_path):
    ready = tmp_path / "ready"

    async def body(pool):
        call = await pool.start(isolated.ignores_stops, {"ready": str(ready)}, _info("ignores_stops"))
        await db_wait(ready.exists, message="the handler to ignore SIGTERM")
        asked = time.monotonic()
        how = await call.stop(0.5)
        took = time.monotonic() - asked
        with pytest.raises(HandlerProcessDied, match=r"killed by signal 9 \(SIGKILL\)"):
            await call.result()
        after = await (await pool.start(isolated.echo, "again", _info())).result()
        return how, took, call.pid, after
    how, took, killed_pid, after = _with_pool(body)
    assert how == KILLED
    assert 0.5 <= took < 5, f"the stop took {took:.2f} s with a grace of 0.5 s"
    assert after["payload"] == "again" and after["pid"] != killed_pid


def test_a_memory_hog_fails_with_a_clear_error_and_the_next_call_works():
    async def body(pool):
        with pytest.raises(MemoryLimitExceeded, match="the job exceeded its memory limit of 200 MB"):
            await (await pool.start(isolated.hog, None, _info("hog"), memory_limit_mb=200)).result()
        return await (await pool.start(isolated.echo, "after", _info())).result()
    assert _with_pool(body)["payload"] == "after"


def test_a_child_killed_by_a_signal_is_reported_as_such():
    killed = r"^the handler's process was killed by signal 9 \(SIGKILL\)$"
    with pytest.raises(HandlerProcessDied, match=killed):
        asyncio.run(run_in_process(isolated.dies, None, _info("dies")))


def _closure():
    @pgrun.task("inner", isolation="process")
    def inner(payload, helpers):
        return payload
    return inner


def test_a_handler_a_child_cannot_import_is_refused_at_load():
    with pytest.raises(TaskModuleError, match="task 'inner' cannot run in a process: "
                                              ".*is a lambda or is defined inside a function"):
        load_tasks({"inner": _closure()})
    with pytest.raises(TaskModuleError, match="task 'quick' cannot run in a process: .*lambda"):
        Worker(load_tasks({"quick": lambda payload, helpers: None}), isolation="process")
    # a task that keeps to its thread is not checked
    kept = pgrun.task("kept", isolation="thread")(lambda payload, helpers: None)
    Worker(load_tasks({"kept": kept}), isolation="process")


def test_an_async_handler_cannot_be_marked_for_isolation_and_bad_options_are_refused():
    async def handler(payload, helpers):
        pass
    handler.__qualname__ = "handler"
    with pytest.raises(TaskModuleError, match="task 'handler' is async: .*cannot be isolated"):
        load_tasks({"handler": pgrun.task(isolation="process")(handler)})
    with pytest.raises(ValueError, match='a task isolation is "thread" or "process"'):
        pgrun.task(isolation="fork")
    with pytest.raises(ValueError, match="a task memory limit is a whole number of MB above 0"):
        pgrun.task(memory_limit_mb=0)
    with pytest.raises(ConfigurationError, match='isolation is "thread" or "process"'):
        Worker(load_tasks({"quick": isolated.echo}), isolation="processes")


def _add_watched(conn, task: str, payload: str = "null", max_attempts: int = 25) -> int:
    """Adds a job and watches it in one transaction, so that its result is kept."""
    with conn.transaction():
        job_id = scalar(conn, "select id from pgrun.add_job(%s, %s::json, max_attempts => %s)",
                        (task, payload, max_attempts))
        conn.execute("select pgrun.watch_jobs(array[%s]::bigint[])", (job_id,))
    return job_id


def _finished(conn, job_id: int):
    return conn.execute("select state, result, last_error from pgrun.get_result(%s) "
                        "where state in ('completed', 'failed', 'cancelled')", (job_id,)).fetchone()


def test_a_real_worker_runs_isolated_jobs_and_their_helpers_add_jobs(conn, recording_workers):
    worker = recording_workers.start("--tasks", "tasks.isolated", "--isolation", "process")
    adder = _add_watched(conn, "adds_a_job")
    plain = _add_watched(conn, "plain_pid")
    state, result, _ = wait_until(lambda: _finished(conn, adder), message="the adding job to end")
    assert state == "completed" and result["pid"] != worker.pid
    added = result["added"]
    assert scalar(conn, "select note from pgrun_test_results where job_id = %s", (adder,)) == f"added {added}"
    worker.wait_for_line(f"job {added} (echo): echoing {{'from': {adder}}}")
    worker.wait_for_line(f"job {added} (echo) completed")
    # with --isolation process even the unmarked plain handler runs in a child
    state, result, _ = wait_until(lambda: _finished(conn, plain), message="the plain job to end")
    assert state == "completed" and result["pid"] not in (worker.pid, os.getpid())


def test_a_memory_hog_fails_its_job_and_the_worker_lives(conn, recording_workers):
    worker = recording_workers.start("--tasks", "tasks.isolated")
    hog = _add_watched(conn, "hog", max_attempts=1)
    state, _, last_error = wait_until(lambda: _finished(conn, hog), message="the hog to fail")
    assert state == "failed"
    assert last_error.startswith("MemoryLimitExceeded: the job exceeded its memory limit of 200 MB "
                                 "(MemoryError)")
    after = _add_watched(conn, "echo", '"after"')
    state, result, _ = wait_until(lambda: _finished(conn, after), message="the next job to end")
    assert state == "completed" and result["payload"] == "after"
    assert worker.proc.poll() is None


def test_a_cancel_kills_an_isolated_handler_that_ignores_it_and_its_slot_runs_the_next_job(dsn, conn,
                                                                                          tmp_path):
    ready = tmp_path / "ready"
    tasks = {"ignores_stops": isolated.ignores_stops, "echo": isolated.echo}

    async def main():
        async with embedded(tasks, dsn, concurrency=1, stop_grace=0.5) as worker:
            stubborn = _add_watched(conn, "ignores_stops", f'{{"ready": "{ready}"}}')
            await db_wait(ready.exists, message="the stubborn handler to start")
            conn.execute("select pgrun.cancel_jobs(array[%s]::bigint[])", (stubborn,))
            after = _add_watched(conn, "echo", "1")
            state, result, _ = await db_wait(lambda: _finished(conn, after),
                                             message="the next job to run in the freed slot")
            assert (state, result["payload"]) == ("completed", 1)
            assert _finished(conn, stubborn)[0] == "cancelled"
            assert worker.stats.abandoned_threads == 0
    asyncio.run(main())


def test_a_handler_that_polls_its_shutdown_event_in_a_tight_loop_sees_the_signal(dsn, conn, tmp_path):
    # The signal lands while the handler's thread holds the event's lock: the child's own
    # signal thread sets it (setting it from a signal handler deadlocked the child).
    # Each signal had about even odds of the deadlock, so five workers in turn.
    async def main(ready):
        async with embedded({"spins_until_shutdown": isolated.spins_until_shutdown}, dsn,
                            shutdown_timeout=10) as worker:
            job_id = _add_watched(conn, "spins_until_shutdown", f'{{"ready": "{ready}"}}')
            await db_wait(ready.exists, message="the handler to start")
            await worker.stop()
        return job_id
    for turn in range(5):
        job_id = asyncio.run(main(tmp_path / f"ready-{turn}"))
        state, result, error = _finished(conn, job_id)
        assert (state, result, error) == ("completed", {"shutdown": True, "polled": True}, None), turn


def test_an_isolated_handler_sees_the_workers_shutdown_and_finishes_its_job(dsn, conn, tmp_path):
    ready = tmp_path / "ready"

    async def main():
        async with embedded({"waits_for_shutdown": isolated.waits_for_shutdown}, dsn,
                            shutdown_timeout=30) as worker:
            job_id = _add_watched(conn, "waits_for_shutdown", f'{{"ready": "{ready}"}}')
            await db_wait(ready.exists, message="the handler to start")
            await worker.stop()
        return job_id
    job_id = asyncio.run(main())
    state, result, _ = _finished(conn, job_id)
    assert (state, result) == ("completed", {"shutdown": True, "shutting_down": True})
