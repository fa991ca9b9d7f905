"""Upgrading a live schema-10 database to schema 11 (priority aging, migration 0011): jobs in
every state keep their rows, priorities and queue listings; none is aged until aging is
turned on; then the jobs from before the upgrade age like new ones and their queue listing
follows. The schema-10 database is made by this pgrun with its migrations cut at 0010 (the
function files are this version's: 0011 adds a column and a view column, and changes no
function signature)."""

from __future__ import annotations

import psycopg

from pgrun import sql_files
from pgrun.migrate import migrate
from support import latest_version, scalar

AGED = "select count(*) from pgrun.jobs where base_priority is not null"
HEADS = "select queue_name, priority, job_id from pgrun._private_queue_heads"
AGING_DONE = "select rows from pgrun.maintain() where task = 'priorities aged'"


def _jobs(conn) -> dict[int, tuple]:
    return {r[0]: r[1:] for r in conn.execute(
        "select id, state, priority, queue_name, attempts, locked_by from pgrun._private_jobs")}


def test_a_live_schema_10_database_upgrades_and_its_jobs_age(empty_dsn, monkeypatch):
    migrations = sql_files.load_migrations()
    assert [m.number for m in migrations][9:] == [10, 11]
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        monkeypatch.setattr(sql_files, "load_migrations", lambda: migrations[:10])
        assert migrate(conn, "pgrun").version == 10
        add = ("select id from pgrun.add_job(%s, queue_name => %s, priority => %s, "
               "run_at => now() + %s::interval)")
        old = conn.execute(add, ("t", None, 5, "-1 minute")).fetchone()[0]
        queued = conn.execute(add, ("t", "q", 5, "-1 minute")).fetchone()[0]
        conn.execute(add, ("t", "q", 3, "0 seconds"))
        conn.execute(add, ("t", None, 5, "1 hour"))                       # scheduled
        running = conn.execute(add, ("r", None, 5, "-1 minute")).fetchone()[0]
        assert conn.execute("select id from pgrun.get_job('schema-10-worker', array['r'])").fetchone() \
            == (running,)
        before = _jobs(conn)
        heads = sorted(conn.execute(HEADS))
        assert heads[0] == ("q", 3, queued + 1)

        monkeypatch.undo()
        result = migrate(conn, "pgrun")
        assert (result.previous_version, result.version, result.functions_replaced) \
            == (10, latest_version(), True)
        assert _jobs(conn) == before
        assert scalar(conn, AGED) == 0
        assert sorted(conn.execute(HEADS)) == heads
        # aging is off after the upgrade: maintain ages nothing
        assert conn.execute(AGING_DONE).fetchall() == []
        assert scalar(conn, AGED) == 0

        conn.execute("select pgrun.set_priority_aging(interval '10 seconds')")
        assert conn.execute(AGING_DONE).fetchall() == [(2,)]
        aged = {r[0]: r[1:] for r in conn.execute(
            "select id, priority, base_priority from pgrun.jobs where base_priority is not null")}
        assert aged == {old: (-1, 5), queued: (-1, 5)}
        assert conn.execute("select job_id from pgrun._private_queue_heads where queue_name = 'q' "
                            "order by priority limit 1").fetchone() == (queued,)
        assert _jobs(conn)[running] == before[running]
        # the claim takes the two aged jobs first
        claimed = {r[0] for r in conn.execute("select id from pgrun.get_jobs('schema-11-worker', array['t'], "
                                              "max_jobs => 2)")}
        assert claimed == {old, queued}
