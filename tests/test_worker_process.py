"""Real `pgrun` processes against this test's database: jobs from SQL, both kinds of
handler, retries, unknown tasks, --once, and graceful shutdown on signals."""

from __future__ import annotations

import math
import signal

import pytest

from support import RESULTS_TABLE, Workers, scalar, wait_until


@pytest.fixture
def workers(dsn):
    started = Workers(dsn)
    yield started
    started.close()


@pytest.fixture
def results(conn):
    conn.execute(RESULTS_TABLE)
    return conn


def notes(conn, task: str | None = None) -> list[str]:
    if task is None:
        rows = conn.execute("select note from pgrun_test_results order by id").fetchall()
    else:
        rows = conn.execute("select note from pgrun_test_results where task = %s order by id",
                            (task,)).fetchall()
    return [r[0] for r in rows]


def assert_nothing_held(conn) -> None:
    assert scalar(conn, "select count(*) from pgrun.jobs "
                        "where locked_at is not null or state = 'running'") == 0
    assert scalar(conn, "select count(*) from pgrun._private_job_queues where running > 0") == 0
    assert scalar(conn, "select count(*) from pgrun._private_workers") == 0


def test_jobs_added_by_a_trigger_run(workers, results):
    results.execute("create table signups (email text)")
    results.execute("""
        create function enqueue_welcome() returns trigger language plpgsql as $$
        begin
          perform pgrun.add_job('async_echo', json_build_object('note', new.email));
          return new;
        end $$""")
    results.execute("create trigger welcome after insert on signups "
                    "for each row execute function enqueue_welcome()")
    worker = workers.start("--tasks", "tasks.basic")

    results.execute("insert into signups values ('ada@example.com'), ('grace@example.com')")

    wait_until(lambda: len(notes(results)) == 2, message="both trigger jobs to run")
    assert sorted(notes(results)) == ["ada@example.com", "grace@example.com"]
    wait_until(lambda: scalar(results, "select count(*) from pgrun.jobs") == 0, message="jobs deleted")
    worker.wait_for_line("(async_echo) completed on attempt 1/25 in ")


def test_async_and_plain_tasks_run_side_by_side(workers, results):
    worker = workers.start("--tasks", "tasks.basic", "--concurrency", "4")
    for n in range(5):
        results.execute("select pgrun.add_job('async_echo', json_build_object('note', %s::text))", (f"a{n}",))
        results.execute("select pgrun.add_job('plain.echo', json_build_object('note', %s::text))", (f"p{n}",))

    wait_until(lambda: len(notes(results)) == 10, message="ten jobs to run")
    assert sorted(notes(results, "async_echo")) == [f"a{n}" for n in range(5)]
    assert sorted(notes(results, "plain.echo")) == [f"p{n}" for n in range(5)]
    worker.wait_for_line("(plain.echo) completed on attempt 1/25")


def test_a_failed_job_is_retried_with_exponential_backoff(workers, results):
    worker = workers.start("--tasks", "tasks.basic")
    job_id = scalar(results,
                    "select id from pgrun.add_job('flaky', '{\"succeed_on\": 2}', max_attempts => 3)")

    wait_until(lambda: scalar(results, "select attempts = 1 and locked_at is null from pgrun.jobs "
                                       "where id = %s", (job_id,)), message="the first attempt to fail")
    last_error, delay = results.execute(
        "select last_error, extract(epoch from run_at - (errors->0->>'at')::timestamptz) "
        "from pgrun.jobs where id = %s", (job_id,)).fetchone()
    assert last_error.startswith("ValueError: flaky failure on attempt 1\nTraceback")
    assert 'tasks/basic.py", line' in last_error  # the handler's frame, not the runner's
    assert float(delay) == pytest.approx(math.exp(1), abs=0.05)
    line = worker.wait_for_line(f"job {job_id} (flaky) failed on attempt 1/3 after ")
    assert "retrying in " in line and "WARNING" in line

    # Don't wait out the backoff: move the retry to now and nudge the worker.
    results.execute("select pgrun.reschedule_jobs(array[%s]::bigint[], run_at => now())", (job_id,))
    results.execute("select pg_notify('pgrun:jobs', '')")
    wait_until(lambda: notes(results, "flaky") == ["succeeded"], message="the retry to succeed")
    worker.wait_for_line(f"job {job_id} (flaky) completed on attempt 2/3")
    wait_until(lambda: scalar(results, "select count(*) from pgrun.jobs") == 0, message="the job deleted")


def test_the_last_failure_is_an_error_and_the_job_stays(workers, results):
    worker = workers.start("--tasks", "tasks.basic")
    job_id = scalar(results, "select id from pgrun.add_job('always_fails', max_attempts => 1)")

    line = worker.wait_for_line(f"job {job_id} (always_fails) failed permanently on attempt 1/1")
    assert "ERROR" in line and "RuntimeError: this task always fails" in line
    attempts, locked_at, last_error = results.execute(
        "select attempts, locked_at, last_error from pgrun.jobs where id = %s", (job_id,)).fetchone()
    assert (attempts, locked_at) == (1, None)
    assert "Traceback" in last_error and "RuntimeError: this task always fails" in last_error
    assert "ERROR" not in "\n".join(line for line in worker.lines if "always_fails" not in line)


def test_once_runs_everything_runnable_then_exits_leaving_unknown_and_future_jobs(workers, results):
    results.execute("select pgrun.add_job('someone.elses.task', '{\"keep\": true}')")
    results.execute("select pgrun.add_job('async_echo', '{\"note\": \"later\"}', "
                    "run_at => now() + interval '1 hour')")
    results.execute("select pgrun.add_job('spawner', '{\"count\": 3}')")
    for n in range(4):
        results.execute("select pgrun.add_job('plain.echo', json_build_object('note', %s::text))", (str(n),))

    worker = workers.start("--tasks", "tasks.basic", "--once", ready=False)

    assert worker.wait(30) == 0, worker.output
    assert sorted(notes(results)) == ["0", "1", "2", "3", "spawned 0", "spawned 1", "spawned 2"]
    left = results.execute("select task_identifier, attempts, locked_at, last_error, payload::text "
                           "from pgrun.jobs order by id").fetchall()
    assert left == [("someone.elses.task", 0, None, None, '{"keep": true}'),
                    ("async_echo", 0, None, None, '{"note": "later"}')]
    assert_nothing_held(results)
    assert "no runnable jobs left" in worker.output
    assert "stopped: 8 completed, 0 failed" in worker.output


def test_sigterm_lets_a_running_job_finish_and_exits_0(workers, results):
    worker = workers.start("--tasks", "tasks.basic", "--shutdown-timeout", "20")
    job_id = scalar(results, "select id from pgrun.add_job('sleeper', '{\"seconds\": 1.5}')")
    wait_until(lambda: notes(results, "sleeper") == ["started"], message="the job to start")

    worker.signal(signal.SIGTERM)

    assert worker.wait(30) == 0, worker.output
    assert notes(results, "sleeper") == ["started", "finished"]
    assert scalar(results, "select count(*) from pgrun.jobs") == 0
    assert_nothing_held(results)
    assert "waiting up to 20.0 s for 1 running job(s)" in worker.output
    assert f"job {job_id} (sleeper) completed on attempt 1/25" in worker.output


def test_an_async_task_notices_shutdown_through_helpers(workers, results):
    worker = workers.start("--tasks", "tasks.basic")
    results.execute("select pgrun.add_job('async_sleeper', '{\"seconds\": 120}')")
    wait_until(lambda: notes(results, "async_sleeper") == ["started"], message="the job to start")

    worker.signal(signal.SIGINT)

    assert worker.wait(30) == 0, worker.output
    assert notes(results, "async_sleeper") == ["started", "noticed shutdown"]
    assert scalar(results, "select count(*) from pgrun.jobs") == 0
    assert_nothing_held(results)


def test_sigterm_after_the_timeout_fails_the_running_job_and_gives_back_the_buffer(workers, results,
                                                                                   tmp_path):
    worker = workers.start("--tasks", "tasks.basic", "--concurrency", "1", "--prefetch", "1",
                           "--shutdown-timeout", "0.5")
    # Jobs are claimed ahead only once they are known to be short (0.2 s on average): run a
    # short one first, one that needs no connection (opening the handlers' first one may take
    # longer than that on a loaded machine).
    quick = tmp_path / "quick"
    results.execute("select pgrun.add_job('append_to_file', json_build_object('path', %s::text, 'n', 1))",
                    (str(quick),))
    wait_until(lambda: quick.exists() and quick.read_text() == "1\n", message="the short job to run")
    running = scalar(results, "select id from pgrun.add_job('sleeper', '{\"seconds\": 600}', priority => -1)")
    wait_until(lambda: notes(results, "sleeper") == ["started"], message="the first job to start")
    buffered = scalar(results, "select id from pgrun.add_job('sleeper', '{\"seconds\": 600}')")
    # concurrency 1 claims one job ahead while the first runs
    wait_until(lambda: scalar(results, "select locked_at is not null from pgrun.jobs where id = %s",
                              (buffered,)), message="the second job to be buffered")

    worker.signal(signal.SIGTERM)

    assert worker.wait(30) == 0, worker.output
    rows = dict((r[0], r[1:]) for r in results.execute(
        "select id, attempts, locked_at, last_error from pgrun.jobs").fetchall())
    assert rows[running] == (1, None, "worker shutting down; job interrupted")
    assert rows[buffered] == (0, None, None)  # given back as if never claimed
    assert notes(results, "sleeper") == ["started"]
    assert_nothing_held(results)
    assert f"gave back 1 unstarted job(s): {buffered}" in worker.output
    assert "interrupting 1 job(s) still running" in worker.output
    assert f"job {running} (sleeper) failed on attempt 1/25" in worker.output


def test_a_second_signal_stops_at_once(workers, results):
    worker = workers.start("--tasks", "tasks.basic", "--shutdown-timeout", "600")
    job_id = scalar(results, "select id from pgrun.add_job('sleeper', '{\"seconds\": 600}')")
    wait_until(lambda: notes(results, "sleeper") == ["started"], message="the job to start")

    worker.signal(signal.SIGTERM)
    worker.wait_for_line("waiting up to 10.0 min for 1 running job(s)")
    worker.signal(signal.SIGTERM)

    assert worker.wait(15) == 1, worker.output  # forced: not a clean stop
    assert scalar(results, "select last_error from pgrun.jobs where id = %s", (job_id,)) == \
        "worker shutting down; job interrupted"
    assert_nothing_held(results)
    assert "stopped (forced)" in worker.output


def test_named_queue_jobs_run_one_after_another(workers, results):
    workers.start("--tasks", "tasks.basic", "--concurrency", "5", "--poll-interval", "60")
    for n in range(5):
        results.execute("select pgrun.add_job('async_echo', json_build_object('note', %s::text), "
                        "queue_name => 'serial')", (str(n),))
    # A freed queue nudges the worker itself; the 60 s poll would be far too slow.
    wait_until(lambda: len(notes(results)) == 5, message="the queue to drain")
    assert notes(results) == ["0", "1", "2", "3", "4"]


def test_crontab_jobs_are_enqueued_and_run_by_the_worker(workers, results, tmp_path):
    crontab = tmp_path / "crontab"
    crontab.write_text('* * * * * async_echo ?fill=10m {"note": "from cron"}\n')
    # Known for five minutes already, so the fill window has ticks to enqueue at once.
    results.execute("select pgrun.cron_register(array['async_echo'], now() - interval '5 minutes')")

    worker = workers.start("--tasks", "tasks.basic", "--crontab", str(crontab))

    wait_until(lambda: len(notes(results)) >= 4, message="backfilled cron jobs to run")
    assert set(notes(results)) == {"from cron"}
    assert "cron: scheduling 1 item(s): async_echo" in worker.output


def test_a_job_due_later_runs_when_due_without_waiting_for_a_poll(workers, results):
    worker = workers.start("--tasks", "tasks.basic", "--poll-interval", "60")
    worker.wait_for_line(" ready: ")
    job_id, run_at = results.execute(
        "select id, run_at from pgrun.add_job('async_echo', '{\"note\": \"later\"}', "
        "run_at => now() + interval '2 seconds')").fetchone()
    # The NOTIFY said when the job is due; the worker sets a timer instead of polling.
    wait_until(lambda: notes(results) == ["later"], timeout=20, message="the job to run when due")
    ran_at = scalar(results, "select at from pgrun_test_results")
    assert ran_at >= run_at
    worker.wait_for_line(f"job {job_id} (async_echo) completed")


def test_a_failed_job_is_retried_when_due_without_waiting_for_a_poll(workers, results):
    worker = workers.start("--tasks", "tasks.basic", "--poll-interval", "60")
    job_id = scalar(results,
                    "select id from pgrun.add_job('flaky', '{\"succeed_on\": 2}', max_attempts => 3)")
    # The first attempt fails; the retry comes e^1 s later, from the worker's own timer.
    wait_until(lambda: notes(results, "flaky") == ["succeeded"], timeout=20,
               message="the retry to run when due")
    worker.wait_for_line(f"job {job_id} (flaky) completed on attempt 2/3")
