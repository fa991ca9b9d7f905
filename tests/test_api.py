"""The Python API: run_once, run (thread), run_async, events, adding jobs, admin."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

import pgrun
from fault_support import embedded, holding
from pgrun import JobSpec, WorkerUtils
from support import RESULTS_TABLE, scalar, wait_until


@pytest.fixture
def results(conn):
    conn.execute(RESULTS_TABLE)
    return conn


def notes(conn) -> list[str]:
    return [r[0] for r in conn.execute("select note from pgrun_test_results order by id").fetchall()]


def test_run_once_runs_every_runnable_job_and_reports(dsn, results):
    with WorkerUtils(dsn) as utils:
        utils.add_job("async_echo", {"note": "a"})
        utils.add_job("plain_spawner")
        utils.add_job("always_fails", max_attempts=1)
        flaky = utils.add_job("flaky", {"succeed_on": 2}, max_attempts=2)

    stats = pgrun.run_once("tasks.basic", connection=dsn)

    assert (stats.completed, stats.failed, stats.permanently_failed) == (3, 2, 1)
    assert sorted(notes(results)) == ["a", "from plain_spawner"]
    # the flaky job failed once and waits for its retry: not runnable now, so run_once ended
    assert scalar(results, "select attempts from pgrun.jobs where id = %s", (flaky.id,)) == 1
    assert scalar(results, "select count(*) from pgrun._private_workers") == 0


def test_run_once_refuses_to_block_a_running_event_loop(dsn):
    async def inside():
        pgrun.run_once("tasks.basic", connection=dsn)

    with pytest.raises(RuntimeError, match="run_once_async"):
        asyncio.run(inside())


def test_events_fire_for_the_worker_and_each_job(dsn, results):
    seen: list[tuple[str, str | None]] = []
    events = pgrun.Events()

    @events.on("*")
    def record(event):
        seen.append((event.name, event.job.task_identifier if event.job else None))

    @events.on("job:success")
    def broken_listener(event):
        raise RuntimeError("a listener bug must not break the worker")

    async_calls = []

    @events.on("job:failed")
    async def async_listener(event):
        async_calls.append((event.job.id, type(event.error).__name__, event.duration > 0))

    with WorkerUtils(dsn) as utils:
        utils.add_job("async_echo", {"note": "x"})
        failing = utils.add_job("always_fails", max_attempts=1)
    stats = pgrun.run_once("tasks.basic", connection=dsn, concurrency=1, events=events)

    assert stats.completed == 1
    names = [name for name, _ in seen]
    assert names[0] == "worker:start" and names[-1] == "worker:stop"
    assert [s for s in seen if s[1] == "async_echo"] == [("job:start", "async_echo"),
                                                          ("job:success", "async_echo")]
    assert [s for s in seen if s[1] == "always_fails"] == [
        ("job:start", "always_fails"), ("job:error", "always_fails"), ("job:failed", "always_fails"),
        ("job:dead", "always_fails")]  # job:dead once the database answered 'failed
    assert async_calls == [(failing.id, "RuntimeError", True)]
    assert names.index("worker:shutdown") < names.index("worker:stop")


def test_unknown_event_names_are_refused():
    with pytest.raises(ValueError, match="unknown event 'job:sucess'"):
        pgrun.Events().on("job:sucess", print)


def test_run_starts_a_worker_in_a_thread_until_stop(dsn, results):
    done = threading.Event()
    events = pgrun.Events()
    events.on("job:success", lambda event: done.set())
    runner = pgrun.run("tasks.basic", connection=dsn, events=events)
    try:
        assert scalar(results, "select count(*) from pgrun._private_workers") == 1
        with WorkerUtils(dsn) as utils:
            utils.add_job("async_echo", {"note": "threaded"})
        assert done.wait(10)
    finally:
        stats = runner.stop(timeout=30)
    assert notes(results) == ["threaded"]
    assert stats.completed == 1
    assert not runner.running
    assert scalar(results, "select count(*) from pgrun._private_workers") == 0


def test_run_async_embeds_a_worker_in_an_asyncio_app(dsn, results):
    async def app():
        finished = asyncio.Event()
        events = pgrun.Events()
        events.on("job:success", lambda event: finished.set())
        worker = await pgrun.run_async({"hello": hello}, connection=dsn, events=events)
        async with pgrun.AsyncWorkerUtils(dsn) as utils:
            await utils.add_job("hello", {"name": "asyncio"})
        await asyncio.wait_for(finished.wait(), 10)
        return await worker.stop()

    greetings = []

    async def hello(payload, helpers):
        greetings.append((payload["name"], helpers.job.attempts, helpers.shutting_down))

    stats = asyncio.run(app())
    assert greetings == [("asyncio", 1, False)]
    assert stats.completed == 1


def test_forbidden_flags_keep_jobs_from_a_worker(dsn, results):
    with WorkerUtils(dsn) as utils:
        flagged = utils.add_job("async_echo", {"note": "flagged"}, flags=["heavy"])
        utils.add_job("async_echo", {"note": "plain"})
    pgrun.run_once("tasks.basic", connection=dsn, forbidden_flags=["heavy"])
    assert notes(results) == ["plain"]
    assert scalar(results, "select attempts from pgrun.jobs where id = %s", (flagged.id,)) == 0


def test_add_job_takes_every_option(dsn):
    run_at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    with WorkerUtils(dsn) as utils:
        job = utils.add_job("emails.send", {"to": "x"}, queue_name="mail", run_at=run_at, max_attempts=3,
                            job_key="mail:x", priority=-5, flags=["a", "b"], job_key_mode="replace")
    assert (job.task_identifier, job.payload, job.queue_name, job.run_at, job.max_attempts, job.key,
            job.priority, job.flags, job.attempts) == (
        "emails.send", {"to": "x"}, "mail", run_at, 3, "mail:x", -5, {"a": True, "b": True}, 0)


def test_add_job_takes_a_timeout(dsn):
    with WorkerUtils(dsn) as utils:
        seconds = utils.add_job("t", timeout=1.5)
        delta = utils.add_job("t", timeout=timedelta(minutes=2))
        plain = utils.add_job("t")
        with pytest.raises(psycopg.Error, match="timeout must be positive"):
            utils.add_job("t", timeout=0)
        with pytest.raises(TypeError, match="timeout is a number of seconds or a timedelta"):
            utils.add_job("t", timeout="soon")  # type: ignore[arg-type]
    assert (seconds.timeout, delta.timeout, plain.timeout) == (1.5, 120.0, None)


def test_async_add_job_takes_a_timeout(dsn):
    async def add():
        async with pgrun.AsyncWorkerUtils(dsn) as utils:
            return await utils.add_job("t", timeout=timedelta(seconds=45))

    assert asyncio.run(add()).timeout == 45.0


def test_dead_letters_from_python(dsn, conn):
    with WorkerUtils(dsn) as utils:
        utils.set_dead_letter("dlq", task_identifier="t")
        job = utils.add_job("t")
        [failed] = utils.permanently_fail_jobs([job.id], "by hand")
        assert utils.remove_dead_letter(task_identifier="t") is True
        assert utils.remove_dead_letter(task_identifier="t") is False
        with pytest.raises(psycopg.Error, match="cannot be its own dead-letter task"):
            utils.set_dead_letter("t", task_identifier="t")
    letter = conn.execute("select task_identifier, payload from pgrun.jobs "
                          "where task_identifier = 'dlq'").fetchone()
    assert letter[0] == "dlq" and letter[1]["dead_job"]["id"] == failed.id

    async def async_rules():
        async with pgrun.AsyncWorkerUtils(dsn) as utils:
            await utils.set_dead_letter("dlq", queue_name="q")
            return await utils.remove_dead_letter(queue_name="q")

    assert asyncio.run(async_rules()) is True


def test_job_key_modes(dsn):
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    much_later = later + timedelta(hours=1)
    with WorkerUtils(dsn) as utils:
        first = utils.add_job("t", {"v": 1}, job_key="k", run_at=later)
        replaced = utils.add_job("t", {"v": 2}, job_key="k", run_at=much_later)
        preserved = utils.add_job("t", {"v": 3}, job_key="k", run_at=datetime.now(timezone.utc),
                                  job_key_mode="preserve_run_at")
        deduped = utils.add_job("t", {"v": 4}, job_key="k", job_key_mode="unsafe_dedupe")
        with pytest.raises(psycopg.Error, match="invalid job_key_mode"):
            utils.add_job("t", job_key="k", job_key_mode="sideways")  # type: ignore[arg-type]
    assert first.id == replaced.id == preserved.id == deduped.id
    assert (replaced.payload, replaced.run_at, replaced.revision) == ({"v": 2}, much_later, 1)
    assert (preserved.payload, preserved.run_at) == ({"v": 3}, much_later)
    assert (deduped.payload, deduped.revision) == ({"v": 3}, 3)


def test_add_job_on_a_connection_joins_its_transaction(dsn, conn):
    with psycopg.connect(dsn) as mine:
        with mine.transaction(force_rollback=True):
            pgrun.add_job(mine, "async_echo", {"note": "rolled back"})
        with mine.transaction():
            kept = pgrun.add_job(mine, "async_echo", {"note": "kept"})
    assert [r[0] for r in conn.execute("select id from pgrun.jobs").fetchall()] == [kept.id]


def test_add_jobs_adds_many_in_one_call(dsn):
    run_at = datetime(2031, 5, 6, tzinfo=timezone.utc)
    with WorkerUtils(dsn) as utils:
        jobs = utils.add_jobs([
            JobSpec("a", {"n": 1}),
            JobSpec("b", {"n": 2}, queue_name="q", run_at=run_at, max_attempts=2, job_key="kb",
                    priority=3, flags=["x"]),
        ])
    by_task = {job.task_identifier: job for job in jobs}
    assert by_task["a"].payload == {"n": 1} and by_task["a"].max_attempts == 25
    b = by_task["b"]
    assert (b.payload, b.queue_name, b.run_at, b.max_attempts, b.key, b.priority, b.flags) == (
        {"n": 2}, "q", run_at, 2, "kb", 3, {"x": True})


def test_add_jobs_answers_each_job_with_its_own_payload_flags_and_meta(dsn):
    # the rows' JSON is decoded in one call per kind (enqueue.jobs_of): each value must land
    # on its own job, whichever jobs have flags or meta and whichever do not
    policy = pgrun.fixed(7)
    with WorkerUtils(dsn) as utils:
        jobs = utils.add_jobs([JobSpec("t", {"n": n}, flags=[f"f{n}"] if n % 2 else None)
                               for n in range(6)])
        kept = utils.add_job("t", [1, "two", None], retry=policy, flags=["g"])
        plain = utils.add_job("t", "text")
    assert [(job.payload, job.flags, job.meta) for job in jobs] == [
        ({"n": n}, {f"f{n}": True} if n % 2 else None, None) for n in range(6)]
    assert (kept.payload, kept.flags, kept.meta["retry"]["base"]) == ([1, "two", None], {"g": True}, 7)
    assert (plain.payload, plain.flags, plain.meta) == ("text", None, None)


def test_admin_functions(dsn, conn):
    with WorkerUtils(dsn) as utils:
        a, b, c, d = (utils.add_job("t", {"n": n}) for n in range(4))
        keyed = utils.add_job("t", job_key="remove-me")

        assert [j.id for j in utils.complete_jobs([a.id])] == [a.id]
        failed = utils.permanently_fail_jobs([b.id], "given up")
        assert (failed[0].attempts, failed[0].last_error) == (b.max_attempts, "given up")
        run_at = datetime(2032, 1, 1, tzinfo=timezone.utc)
        moved = utils.reschedule_jobs([c.id], run_at=run_at, priority=7, max_attempts=9)
        assert (moved[0].run_at, moved[0].priority, moved[0].max_attempts) == (run_at, 7, 9)
        assert utils.remove_job("remove-me").id == keyed.id
        assert utils.remove_job("never-existed") is None

        conn.execute("select pgrun.get_jobs('dead-worker-0001', null)")
        assert scalar(conn, "select locked_by from pgrun.jobs where id = %s", (d.id,)) == "dead-worker-0001"
        utils.force_unlock_workers(["dead-worker-0001"])
        assert scalar(conn, "select locked_by from pgrun.jobs where id = %s", (d.id,)) is None


def test_async_worker_utils(dsn):
    async def main():
        async with pgrun.AsyncWorkerUtils(dsn) as utils:
            job = await utils.add_job("t", {"n": 1}, priority=2)
            more = await utils.add_jobs([JobSpec("t"), JobSpec("u")])
            moved = await utils.reschedule_jobs([job.id], attempts=1)
            removed = await utils.complete_jobs([m.id for m in more])
            return job, moved, removed

    job, moved, removed = asyncio.run(main())
    assert job.priority == 2
    assert moved[0].attempts == 1
    assert len(removed) == 2


@pytest.mark.parametrize("prepared, threshold", [(True, 5), (False, None)])
def test_prepared_statements_can_be_turned_off_for_poolers(dsn, prepared, threshold):
    async def main():
        worker = await pgrun.run_async({"t": lambda payload, helpers: None}, connection=dsn,
                                       prepared_statements=prepared)
        try:
            async with worker.pool.connection() as conn:
                pooled = conn.prepare_threshold
            # the LISTEN and heartbeat connections, outside the pool, alike
            return pooled, worker.listener.conn.prepare_threshold, worker.lease.connection.prepare_threshold
        finally:
            await worker.stop()

    assert asyncio.run(main()) == (threshold, threshold, threshold)


def test_a_live_worker_keeps_beating(dsn, conn):
    runner = pgrun.run({"t": lambda payload, helpers: None}, connection=dsn, heartbeat_interval=0.1)
    try:
        first = scalar(conn, "select last_heartbeat_at from pgrun._private_workers where worker_id = %s",
                       (runner.worker.worker_id,))
        info = scalar(conn, "select info from pgrun._private_workers")
        assert info["tasks"] == ["t"] and info["concurrency"] == 10
        wait_until(lambda: scalar(conn, "select last_heartbeat_at > %s from pgrun._private_workers",
                                  (first,)), message="a later heartbeat")
    finally:
        runner.stop(timeout=30)
    assert scalar(conn, "select count(*) from pgrun._private_workers") == 0


def test_run_once_drains_a_named_queue_one_job_after_another(dsn, results):
    with WorkerUtils(dsn) as utils:
        utils.add_jobs([JobSpec("async_echo", {"note": str(n)}, queue_name="serial") for n in range(6)])
    stats = pgrun.run_once("tasks.basic", connection=dsn, concurrency=4)
    assert stats.completed == 6
    assert notes(results) == [str(n) for n in range(6)]
    assert scalar(results, "select count(*) from pgrun.jobs") == 0


def test_a_worker_whose_lease_is_taken_stops_its_job_and_runs_it_again_under_a_new_id(dsn, conn, caplog):
    caplog.set_level(logging.INFO, logger="pgrun.worker")
    attempts: list[tuple[int, str]] = []

    async def main():
        async def long(payload, helpers):
            attempts.append((helpers.job.attempts, "started"))
            try:
                await asyncio.sleep(3600 if helpers.job.attempts == 1 else 0)
            finally:
                attempts.append((helpers.job.attempts, "ended"))

        worker = await pgrun.run_async({"long": long}, connection=dsn, heartbeat_interval=0.5,
                                       heartbeat_timeout=2.0)
        first_id = worker.worker_id
        try:
            job_id = scalar(conn, "select id from pgrun.add_job('long')")
            await asyncio.to_thread(wait_until, lambda: attempts == [(1, "started")],
                                    message="the job to start")
            # An admin releases the worker's jobs: its lease is gone, it must not go on running them.
            conn.execute("select pgrun.force_unlock_workers(array[%s])", (first_id,))
            await asyncio.to_thread(wait_until, lambda: (2, "ended") in attempts, timeout=10,
                                    message="the job to run again")
        finally:
            stats = await worker.stop()
        return job_id, first_id, worker.worker_id, stats

    job_id, first_id, second_id, stats = asyncio.run(main())
    # the first attempt was stopped before the second one started: never two at once
    assert attempts == [(1, "started"), (1, "ended"), (2, "started"), (2, "ended")]
    assert second_id != first_id and second_id.startswith(first_id)
    assert f"worker {first_id} lost its lease" in caplog.text
    assert f"job {job_id} (long) completed on attempt 2/25" in caplog.text
    assert stats.completed == 1


def test_a_thread_that_outlives_its_lease_is_not_started_twice(dsn, conn, caplog):
    caplog.set_level(logging.INFO, logger="pgrun.worker")
    starts: list[int] = []
    finish = threading.Event()

    def stubborn(payload, helpers):  # a plain handler that ignores being interrupted
        starts.append(helpers.job.attempts)
        finish.wait(30)

    async def main():
        worker = await pgrun.run_async({"stubborn": stubborn}, connection=dsn, heartbeat_interval=0.5,
                                       heartbeat_timeout=2.0)
        try:
            job_id = scalar(conn, "select id from pgrun.add_job('stubborn')")
            await asyncio.to_thread(wait_until, lambda: starts == [1], message="the job to start")
            conn.execute("select pgrun.force_unlock_workers(array[%s])", (worker.worker_id,))
            await asyncio.to_thread(wait_until, lambda: "claimed again" in caplog.text, timeout=10,
                                    message="the job to be claimed again while its thread still runs")
            assert starts == [1]
            finish.set()
            await asyncio.to_thread(wait_until, lambda: scalar(conn, "select count(*) from pgrun.jobs") == 0,
                                    message="the job to be completed")
        finally:
            finish.set()
            stats = await worker.stop()
        return job_id, stats

    job_id, stats = asyncio.run(main())
    assert starts == [1]
    assert f"job {job_id} (stubborn) was released while running here and claimed again" in caplog.text
    # the thread's outcome is reported for the newer claim
    assert f"job {job_id} (stubborn) completed on attempt 2/25" in caplog.text
    assert stats.completed == 1


def test_handlers_holding_every_pooled_connection_do_not_stop_the_heartbeat(dsn, conn):
    async def main():
        release = asyncio.Event()
        holding = asyncio.Event()

        async def hog(payload, helpers):
            # every connection handlers may have
            async with contextlib.AsyncExitStack() as stack:
                for _ in range((await worker.handler_pool()).max_size):
                    await stack.enter_async_context(helpers.connection())
                holding.set()
                await release.wait()

        worker = pgrun.make_worker({"hog": hog}, connection=dsn, concurrency=1, heartbeat_interval=1.0)
        conn.execute("select pgrun.add_job('hog')")  # claimed at once, before the first beat is due
        await worker.start()
        try:
            registered = scalar(conn, "select last_heartbeat_at from pgrun._private_workers")
            await asyncio.wait_for(holding.wait(), 10)
            stats = (await worker.handler_pool()).get_stats()
            assert stats["pool_size"] == stats["pool_max"] and stats["pool_available"] == 0
            # the runner's own pool is apart: claims and outcomes still have connections
            async with worker.pool.connection(timeout=2) as runner_conn:
                await runner_conn.execute("select 1")
            await asyncio.to_thread(
                wait_until, lambda: scalar(conn, "select last_heartbeat_at > %s from pgrun._private_workers",
                                           (registered,)),
                timeout=5, message="a heartbeat while the pool is empty")
        finally:
            release.set()
            stats = await worker.stop()
        return stats

    assert asyncio.run(main()).completed == 1


def test_an_unexpected_listener_error_is_logged_and_listening_resumes(dsn, conn, caplog):
    listens: list[pgrun.Event] = []
    listen_errors: list[BaseException | None] = []

    async def main():
        events = pgrun.Events()
        events.on("worker:listen", listens.append)
        events.on("worker:listen:error", lambda event: listen_errors.append(event.error))
        # Under client_encoding SQL_ASCII psycopg decodes a notification as ASCII: one that is not
        # ASCII fails in the listener, and not as a connection error (a pooler's
        # DuplicatePreparedStatement would be another). Text comes back as bytes in that encoding,
        # so nothing here reads any (no migration check, no jobs).
        worker = await pgrun.run_async({"t": lambda payload, helpers: None}, events=events,
                                       connection=dsn + " client_encoding=SQL_ASCII",
                                       run_migrations=False)
        try:
            conn.execute("select pg_notify('pgrun:jobs', 'déjà vu')")
            await asyncio.to_thread(wait_until, lambda: len(listens) == 2 or worker.shutting_down,
                                    message="the listener to listen again (or the worker to stop)")
            assert not worker.shutting_down
        finally:
            await worker.stop()

    asyncio.run(main())
    assert [type(error) for error in listen_errors] == [UnicodeDecodeError]
    assert "LISTEN connection failed (UnicodeDecodeError" in caplog.text


def test_async_worker_stop_listeners_finish_before_run_once_returns(dsn):
    stopped: list[str] = []
    events = pgrun.Events()

    @events.on("worker:stop")
    async def on_stop(event):
        await asyncio.sleep(0.01)  # e.g. flushing metrics
        stopped.append(event.worker_id)

    pgrun.run_once({"t": lambda payload, helpers: None}, connection=dsn, events=events,
                   worker_id="pgrun-test-stop-listener")
    assert stopped == ["pgrun-test-stop-listener"]


def _leave_dead_rows(worker, conn) -> None:
    """The worker vacuums at 500 dead rows; 2,000 jobs for it to run, and leave dead."""
    worker._maintenance.vacuum_dead_rows = 500
    conn.execute("select count(*) from pgrun.add_jobs(array(select json_populate_record("
                 "null::pgrun.job_spec, '{\"identifier\": \"t\"}') from generate_series(1, 2000)))")


async def _logged(caplog, text: str, message: str) -> None:
    await asyncio.to_thread(wait_until, lambda: text in caplog.text, timeout=20, interval=0.2,
                            message=message)


NOOP = {"t": lambda payload, helpers: None}


def test_a_worker_vacuums_the_jobs_table_once_it_holds_many_dead_rows(dsn, conn, caplog):
    caplog.set_level(logging.INFO, logger="pgrun.worker")

    async def main():
        async with embedded(NOOP, dsn, maintenance_interval=0.3) as worker:
            _leave_dead_rows(worker, conn)
            # completed jobs are deleted: 2,000 dead rows, seen by the statistics a little later
            await _logged(caplog, "vacuumed the jobs table", "the worker to vacuum the jobs table")

    asyncio.run(main())
    assert scalar(conn, "select vacuum_count from pg_stat_user_tables "
                        "where relid = 'pgrun._private_jobs'::regclass") >= 1


def test_a_vacuum_already_running_elsewhere_is_skipped_at_once_and_tried_again_later(dsn, conn, caplog):
    """One VACUUM at a time without a session lock (which a transaction pooler would strand
    on one of its server connections): VACUUM's own table lock, and SKIP_LOCKED."""
    caplog.set_level(logging.INFO, logger="pgrun.worker")

    async def main():
        with contextlib.ExitStack() as vacuum_elsewhere:
            # the lock a VACUUM holds, held here as if another worker were vacuuming
            vacuum_elsewhere.enter_context(holding(dsn, "lock table pgrun._private_jobs in share update "
                                                        "exclusive mode"))
            async with embedded(NOOP, dsn, maintenance_interval=0.3) as worker:
                _leave_dead_rows(worker, conn)
                await _logged(caplog, "vacuum of the jobs table skipped", "the worker to skip the vacuum")
                assert "vacuumed the jobs table" not in caplog.text
                assert "lock not available" in caplog.text
                vacuum_elsewhere.close()   # the other vacuum ends
                await _logged(caplog, "vacuumed the jobs table", "the worker to vacuum once the lock is gone")

    asyncio.run(main())
