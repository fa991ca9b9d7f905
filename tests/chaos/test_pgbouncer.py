"""Workers behind PgBouncer in transaction mode: prepared statements off, LISTEN over
a direct connection of its own (--listen-connection). Jobs complete, and the
latency from add_job to the handler stays within 2x of a worker connected directly
(both measured in this test, turn about, on two databases of the same server)."""

from __future__ import annotations

import statistics

import psycopg
import pytest

from chaos.pgbouncer import PgBouncer
from pgrun.migrate import migrate
from support import Workers, scalar, wait_until
from tasks.chaos import RUNS_TABLE

ROUNDS = 40


def _latency(conn: psycopg.Connection) -> float:
    """Adds one job and waits for its run: seconds from the job's creation to its handler's start."""
    job_id, created = conn.execute("select id, extract(epoch from created_at)::float8 "
                                   "from pgrun.add_job('chaos.run')").fetchone()
    started = wait_until(lambda: scalar(conn, "select extract(epoch from started_at)::float8 "
                                              "from chaos_runs where job_id = %s", (job_id,)),
                         timeout=30, interval=0.001, message=f"job {job_id} to run")
    return started - created


@pytest.mark.slow
def test_workers_work_through_pgbouncer_in_transaction_mode(dsn, conn, empty_dsn, capsys):
    with psycopg.connect(empty_dsn, autocommit=True) as bounced:
        migrate(bounced, "pgrun")
        for c in (conn, bounced):
            c.execute(RUNS_TABLE)
        with PgBouncer(pool_mode="transaction") as bouncer:
            direct_workers, bounced_workers = Workers(dsn), Workers(bouncer.dsn(empty_dsn))
            try:
                direct_workers.start("--tasks", "tasks.chaos", "--concurrency", "4")
                worker = bounced_workers.start("--tasks", "tasks.chaos", "--concurrency", "4",
                                               "--no-prepared-statements", "--listen-connection", empty_dsn)
                # the worker's pool and heartbeat are PgBouncer's clients; LISTEN is not
                clients = [line for line in bouncer.show("clients").splitlines()
                           if f"|{psycopg.conninfo.conninfo_to_dict(empty_dsn)['dbname']}|" in line]
                assert len(clients) >= 3, clients
                assert scalar(bounced, "select count(*) from pg_stat_activity where application_name = "
                                       "'pgrun listener' and datname = current_database()") == 1

                bounced.execute("select count(*) from pgrun.add_jobs(array(select row('chaos.run', null, "
                                "null, null, null, null, null, null, null, null)::pgrun.job_spec "
                                "from generate_series(1, 500)))")
                wait_until(lambda: scalar(bounced, "select count(*) from pgrun.jobs") == 0, timeout=60,
                           message="500 jobs through PgBouncer")
                assert scalar(bounced, "select count(*) from chaos_runs") == 500

                direct, pooled = [], []
                for _ in range(ROUNDS):
                    direct.append(_latency(conn))
                    pooled.append(_latency(bounced))
                assert worker.proc.poll() is None, worker.output
                assert "prepared statement" not in worker.output, worker.output
            finally:
                bounced_workers.close()
                direct_workers.close()
    d, p = statistics.median(direct), statistics.median(pooled)
    with capsys.disabled():
        print(f"\nadd_job to handler, median of {ROUNDS}: direct {d * 1000:.1f} ms, "
              f"through PgBouncer (transaction mode) {p * 1000:.1f} ms")
    # 2x, and a millisecond of slack: both are a few milliseconds on an idle machine
    assert p <= 2 * d + 0.001, (direct, pooled)
