"""Fault 18 of issue 12: while a long transaction pinned the xmin horizon, every
claim read the jobs_available entries of every job claimed since, and the
workers vacuumed the whole jobs table every few seconds for nothing.

Each of those entries points at a row version the pinned snapshot may still
see, so no scan can mark it dead and the next one skips nothing: the claim's
ordered scan walked them all, at the head of the index, and bench/bloat.py's
throughput fell to about 35 % of its baseline after 10 minutes. Now a session
whose scan from the start steps over many entries claims from its hint (the
key of the last job it claimed) instead, and scans from the start again every
claim_hint_refresh (0185_claim_hints.sql). And a worker that vacuumed does not
vacuum again while the same snapshot is still the oldest (maintenance.py): a
VACUUM then removes nothing that died since, and the dead rows stay over the
threshold. Real sessions and a real worker here; one session pins the horizon.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg

from fault_support import add_many, db_wait, embedded
from support import scalar

WORKER = "fault-18-pinned-horizon"


READ = "select pg_stat_get_xact_tuples_returned('pgrun.jobs_available'::regclass)"


def _claim_reading(conn: psycopg.Connection, count: int) -> tuple[list[int], list[int], int]:
    """One claim: the jobs, their leases, and how many jobs_available entries it read (the
    counter is the session's since its statistics were last sent, hence before and after)."""
    with conn.transaction():
        before = conn.execute(READ).fetchone()[0]
        rows = conn.execute("select id, lease from pgrun.claim_jobs(%s, %s, array['t']) where id is not null",
                            (WORKER, count)).fetchall()
        entries = conn.execute(READ).fetchone()[0] - before
    return [r[0] for r in rows], [r[1] for r in rows], entries


def _finish(conn: psycopg.Connection, ids: list[int], leases: list[int]) -> None:
    outcomes = conn.execute("select outcome from pgrun.complete_attempts(%s, %s, %s)",
                            (WORKER, ids, leases)).fetchall()
    assert outcomes == [("completed",)] * len(ids)


def _in_hint_mode(conn: psycopg.Connection) -> bool:
    return bool(conn.execute("select current_setting('pgrun.claim_slow_since', true)").fetchone()[0])


def test_claims_skip_the_dead_head_while_the_horizon_is_pinned(conn, dsn):
    conn.execute("select pgrun.register_worker(%s)", (WORKER,))
    add_many(conn, 3_200, "t")
    with psycopg.connect(dsn) as pinning:
        pinning.execute("set transaction isolation level repeatable read")
        pinning.execute("select txid_current()")
        finished = 0
        while finished < 3_000:
            ids, leases, _ = _claim_reading(conn, 50)
            _finish(conn, ids, leases)
            finished += len(ids)
        assert _in_hint_mode(conn), "3,000 dead entries at the head did not put the session in hint mode"

        ids, leases, entries = _claim_reading(conn, 10)
        assert len(ids) == 10 and entries < 100, f"a hinted claim read {entries} entries"
        _finish(conn, ids, leases)

        # what the hint saves: a new session, without one, reads every entry once
        with psycopg.connect(dsn, autocommit=True) as fresh:
            got, _, entries = _claim_reading(fresh, 10)
            assert len(got) == 10 and entries > 3_000, f"a claim from the start read {entries} entries"
            assert _in_hint_mode(fresh)
        pinning.rollback()

    # the horizon moves: once vacuum removed the dead entries, the next scan from the start
    # (the refresh, due at once here) steps over few and leaves hint mode
    conn.execute("vacuum pgrun._private_jobs")
    conn.execute("insert into pgrun._private_settings (name, value) values ('claim_hint_refresh', '0')")
    better = conn.execute("select id from pgrun.add_job('t', priority => -1)").fetchone()[0]
    ids, leases, entries = _claim_reading(conn, 1)
    assert ids == [better] and entries < 100
    assert not _in_hint_mode(conn)


def _vacuums(conn: psycopg.Connection) -> int:
    return scalar(conn, "select vacuum_count from pg_stat_user_tables "
                        "where relid = 'pgrun._private_jobs'::regclass")


def test_a_worker_does_not_vacuum_again_while_the_horizon_stays_pinned(dsn, conn, caplog):
    caplog.set_level(logging.DEBUG, logger="pgrun.worker")

    async def main():
        with psycopg.connect(dsn) as pinning:
            pinning.execute("set transaction isolation level repeatable read")
            pinning.execute("select txid_current()")
            noop = {"t": lambda payload, helpers: None}
            async with embedded(noop, dsn, maintenance_interval=0.2) as worker:
                maintenance = worker._maintenance
                maintenance.vacuum_dead_rows = 500
                add_many(conn, 2_000, "t")
                await db_wait(lambda: "vacuumed the jobs table" in caplog.text, timeout=20,
                              message="a first vacuum")
                await db_wait(lambda: "vacuum held back" in caplog.text, timeout=20,
                              message="the next vacuum held back while the horizon is pinned")
                vacuums, runs = _vacuums(conn), maintenance.runs
                await db_wait(lambda: maintenance.runs >= runs + 5, timeout=20, message="five more rounds")
                assert _vacuums(conn) == vacuums, "a worker vacuumed again under the same horizon"
                pinning.rollback()  # the horizon moves: the dead rows can go
                await db_wait(lambda: caplog.text.count("vacuumed the jobs table") >= 2, timeout=20,
                              message="a vacuum once the horizon moved")

    asyncio.run(main())
