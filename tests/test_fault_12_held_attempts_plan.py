"""Fault 12 of issue 8: recovering after a claim whose answer was lost scanned the table.

When a claim's connection drops, the runner asks which attempts the database
thinks it holds (held_attempts) and gives back those it never saw. Schema 1's
query (`select id from jobs where locked_by = $1`) could not use its partial
index and read the whole table: 107 ms at a million rows. Now it reads the
jobs_running index. The plan checked is the one the function's own statement
runs with (auto_explain, nested statements), on a table of 200,000 jobs.
"""

from __future__ import annotations

from fault_support import add_many, nested_plans

WORKER, OTHER = "fault-12-recovering", "fault-12-someone-else"


def test_held_attempts_reads_the_running_index_not_the_table(conn):
    add_many(conn, 150_000, "t")
    add_many(conn, 50_000, "t", run_at="now() + interval '1 day'")
    for worker, count in ((WORKER, 30), (OTHER, 20)):
        conn.execute("select pgrun.register_worker(%s)", (worker,))
        conn.execute("select count(*) from pgrun.claim_jobs(%s, %s)", (worker, count))
    assert conn.execute("select count(*) from pgrun.jobs").fetchone() == (200_000,)
    conn.execute("analyze pgrun._private_jobs")

    held = conn.execute("select job_id, lease from pgrun.held_attempts(%s)", (WORKER,)).fetchall()
    expected = conn.execute("select id, lease from pgrun._private_jobs "
                            "where state = 'running' and locked_by = %s order by id", (WORKER,)).fetchall()
    assert held == expected and len(held) == 30

    plans = nested_plans(conn, "select * from pgrun.held_attempts(%s)", (WORKER,))
    inner = [p for p in plans if "_private_jobs" in p]
    assert inner, f"no plan of held_attempts' own query was reported: {plans}"
    for plan in inner:
        assert "jobs_running" in plan, plan
        assert "Seq Scan" not in plan, plan
