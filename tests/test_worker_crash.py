"""Workers that die, and databases that drop connections: nothing is lost."""

from __future__ import annotations

import signal
import time

import psycopg
import pytest

from support import RESULTS_TABLE, Workers, scalar, wait_until


@pytest.fixture
def workers(dsn):
    started = Workers(dsn)
    yield started
    started.close()


@pytest.mark.slow
def test_a_killed_workers_job_runs_again_on_another_worker_within_30_s(workers, conn):
    conn.execute(RESULTS_TABLE)
    doomed = workers.start("--tasks", "tasks.basic")
    job_id = scalar(conn, "select id from pgrun.add_job('stuck_first_time')")
    wait_until(lambda: scalar(conn, "select count(*) from pgrun_test_results where note = 'started'") == 1,
               message="the first attempt to start")
    rescuer = workers.start("--tasks", "tasks.basic")

    doomed.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    doomed.wait(10)

    wait_until(lambda: scalar(conn, "select count(*) from pgrun_test_results where note = 'finished'") == 1,
               timeout=30, interval=0.2, message="the job to run again and finish")
    assert time.monotonic() - killed_at < 30
    attempts = [r[0] for r in conn.execute(
        "select attempt from pgrun_test_results where job_id = %s order by id", (job_id,)).fetchall()]
    assert attempts == [1, 2, 2]  # started (killed), started again, finished
    rescuer.wait_for_line("stopped sending heartbeats; released 1 of its job(s)")
    rescuer.wait_for_line(f"job {job_id} (stuck_first_time) completed on attempt 2/25")
    wait_until(lambda: scalar(conn, "select count(*) from pgrun.jobs") == 0, message="the job deleted")


def _terminate_other_backends(conn: psycopg.Connection) -> int:
    return scalar(conn, "select count(*) filter (where t) from (select pg_terminate_backend(pid) as t "
                        "from pg_stat_activity where datname = current_database() "
                        "and pid <> pg_backend_pid()) as k")


@pytest.mark.slow
def test_a_worker_carries_on_when_its_connections_are_killed(workers, conn, tmp_path):
    out = tmp_path / "done.txt"
    out.touch()
    # A long poll interval: after the kills only a re-established LISTEN can wake the worker quickly.
    worker = workers.start("--tasks", "tasks.basic", "--concurrency", "4", "--poll-interval", "60")

    def add(first: int, count: int) -> None:
        conn.execute("select count(*) from pgrun.add_jobs(array(select row('append_to_file', "
                     "json_build_object('path', %s::text, 'n', n), null, null, null, null, null, null, null,"
                     " null)"
                     "::pgrun.job_spec from generate_series(%s::int, %s::int) as n))",
                     (str(out), first, first + count - 1))

    def done() -> set[int]:
        return {int(line) for line in out.read_text().split()}

    for round_ in range(3):
        add(100 * round_, 100)
        # kill while this batch is being worked on, with LISTEN up again after the last kill
        def connected_and_working(round_: int = round_) -> bool:
            return (worker.output.count("listening for new jobs again") == round_
                    and len(done()) > 100 * round_)
        wait_until(connected_and_working, message="the worker to be connected and working")
        assert _terminate_other_backends(conn) >= 2  # at least LISTEN and a pool connection
    add(300, 200)
    wait_until(lambda: done() >= set(range(500)), timeout=60, message="all 500 jobs to run")

    # Prove LISTEN came back: a new job runs long before the 60 s poll would find it.
    worker.wait_for_line("listening for new jobs again")
    started = time.monotonic()
    add(500, 1)
    wait_until(lambda: 500 in done(), timeout=10, message="the job after the kills")
    assert time.monotonic() - started < 10

    wait_until(lambda: scalar(conn, "select count(*) from pgrun.jobs") == 0, message="every job deleted")
    assert worker.proc.poll() is None, worker.output
    assert "LISTEN connection lost" in worker.output

    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0, worker.output
    assert scalar(conn, "select count(*) from pgrun._private_workers") == 0
