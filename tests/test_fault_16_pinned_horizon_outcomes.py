"""Fault 16 of issue 12: while a long transaction pinned the xmin horizon, every
completion read all of the worker's entries in jobs_running, dead ones included.

The completion's lookup (`id = any(ids) and state = 'running' and locked_by =
worker`) matched the partial index jobs_running (locked_by, id) as well as the
primary key. Generic plans made while few jobs ran (the statistics of a fresh
queue) chose jobs_running with `locked_by` alone as the index condition: a walk
over every entry of the worker, cheap while vacuum removes finished attempts,
and growing with each job finished since the horizon stopped when it cannot.
bench/bloat.py measured throughput at 40 % of its baseline with a session idle
in transaction; half of each job's cost was this walk. Now completions and
failures find their rows by id. The plans checked are the ones the functions'
own statements run with (auto_explain), after 2,000 jobs finished under a
pinned horizon.
"""

from __future__ import annotations

import psycopg

from fault_support import add_many, nested_plans

WORKER = "fault-16-pinned-horizon"


def _claim(conn: psycopg.Connection, count: int) -> tuple[list[int], list[int]]:
    rows = conn.execute("select id, lease from pgrun.claim_jobs(%s, %s, array['t']) where id is not null",
                        (WORKER, count)).fetchall()
    return [r[0] for r in rows], [r[1] for r in rows]


def _jobs_plans(plans: list[str]) -> list[str]:
    return [p for p in plans if "_private_jobs" in p and "Query Text" in p
            and ("delete from" in p or "for update of j" in p)]


def test_outcomes_find_rows_by_id_while_the_horizon_is_pinned(conn, dsn):
    conn.execute("select pgrun.register_worker(%s)", (WORKER,))
    add_many(conn, 2_100, "t")
    conn.execute("analyze pgrun._private_jobs")   # statistics of a queue where nothing runs
    with psycopg.connect(dsn) as pinning:
        pinning.execute("set transaction isolation level repeatable read")
        pinning.execute("select txid_current()")
        finished = 0
        while finished < 2_000:
            ids, leases = _claim(conn, 50)
            outcomes = conn.execute("select outcome from pgrun.complete_attempts(%s, %s, %s)",
                                    (WORKER, ids, leases)).fetchall()
            assert outcomes == [("completed",)] * len(ids)
            finished += len(ids)
        assert conn.execute("select count(*) from pgrun._private_jobs").fetchone()[0] == 100

        ids, leases = _claim(conn, 10)
        plans = _jobs_plans(nested_plans(conn, "select * from pgrun.complete_attempts(%s, %s, %s)",
                                         (WORKER, ids, leases)))
        assert plans, "no plan of complete_attempts' own delete was reported"
        for plan in plans:
            assert "using jobs_running" not in plan and "using _private_jobs_pkey" in plan, plan

        ids, leases = _claim(conn, 10)
        plans = _jobs_plans(nested_plans(
            conn, "select * from pgrun.fail_attempts(%s, %s, %s, %s)",
            (WORKER, ids, leases, ["boom"] * len(ids))))
        assert plans, "no plan of fail_attempts' own lock was reported"
        for plan in plans:
            assert "using jobs_running" not in plan and "using _private_jobs_pkey" in plan, plan
        failed = conn.execute("select count(*) from pgrun.jobs where id = any(%s) and attempts = 1 "
                              "and last_error = 'boom'", (ids,)).fetchone()[0]
        assert failed == 10
        pinning.rollback()
