"""The evaluation checklist, one test per step (README.md says what each shows).

System cron runs on a clock the test moves by hand (CronScheduler's `clock=`);
user schedules run on the database's real clock, with a job made due "now"
standing in for the wait until its time comes.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import app
import pytest
from psycopg_pool import AsyncConnectionPool

import pgrun
from pgrun.cron import CronScheduler, parse_crontab

UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


class HandClock:
    """A clock for CronScheduler that reads whatever the test set."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:  # only run() sleeps; the tests call step()
        self.current += timedelta(seconds=seconds)
        await asyncio.sleep(0)


async def open_pool(dsn: str) -> AsyncConnectionPool:
    pool = AsyncConnectionPool(dsn, open=False, min_size=1, max_size=2)
    await pool.open(wait=True)
    return pool


def db_now(conn) -> datetime:
    return conn.execute("select now()").fetchone()[0]


def pending(conn, key: str) -> list[tuple[int, datetime]]:
    """(id, run_at) of the jobs holding `key`."""
    return [tuple(r) for r in conn.execute("select id, run_at from pgrun.jobs where key = %s", (key,))]


def activity(conn, task: str) -> list[tuple[str, int]]:
    return [tuple(r) for r in conn.execute(
        "select detail, job_id from activity where task = %s order by id", (task,))]


def at(minute: int, second: int = 1) -> datetime:
    """A moment on 2024-05-01 at 10:MM:SS UTC (past, so its ticks are due at once)."""
    return datetime(2024, 5, 1, 10, minute, second, tzinfo=UTC)


# ---------------------------------------------------------------- step 1


def test_1_system_cron_enqueues_its_ticks_and_its_job_key_dedupes(dsn, conn):
    [item] = parse_crontab(app.SYSTEM_CRONTAB)
    assert (item.schedule, item.task, item.job_key, item.tz) == (
        "*/5 * * * *", "session.cleanup", "session.cleanup", "UTC")

    async def scheduler_steps():
        pool = await open_pool(dsn)
        clock = HandClock(at(2))
        scheduler = CronScheduler(pool, "pgrun", [item], clock)
        try:
            await scheduler.start()  # first seen at 10:02: its first tick is 10:05
            clock.current = at(5)
            [tick] = await scheduler.step()
            assert (tick.tick, tick.backfilled) == (at(5, 0), False) and tick.job_id is not None
            # No worker ran it. At 10:10 the next tick's job takes the key:
            # the waiting 10:05 job is replaced, not joined by a second one.
            clock.current = at(10)
            [tick] = await scheduler.step()
            assert tick.tick == at(10, 0)
            assert [ts for ts, in conn.execute("select payload->'_cron'->>'ts' from pgrun.jobs")] == [
                "2024-05-01T10:10:00.000Z"]
            assert len(pending(conn, "session.cleanup")) == 1

            stats = await pgrun.run_once_async(app, connection=dsn)
            assert (stats.completed, stats.failed) == (1, 0)
            # Once it has run, the next tick enqueues a new job as usual.
            clock.current = at(15)
            [tick] = await scheduler.step()
            assert tick.job_id is not None
            stats = await pgrun.run_once_async(app, connection=dsn)
            assert (stats.completed, stats.failed) == (1, 0)
        finally:
            await pool.close()

    asyncio.run(scheduler_steps())
    assert [ts for ts, _ in activity(conn, "session.cleanup")] == [
        "2024-05-01T10:10:00.000Z", "2024-05-01T10:15:00.000Z"]


# ---------------------------------------------------------------- step 2


def test_2_a_user_schedule_is_one_pending_job_that_reschedules_itself(dsn, conn):
    key = app.schedule_key(7)
    before = db_now(conn)
    job = app.set_schedule(conn, 7, "0 9 * * mon-fri", "Europe/Paris", "ada@example.com")
    after = db_now(conn)

    # One pending run, at the next weekday 09:00 in Paris.
    assert pending(conn, key) == [(job.id, job.run_at)]
    local = job.run_at.astimezone(PARIS)
    assert (local.hour, local.minute, local.weekday() < 5) == (9, 0, True)
    assert app.next_occurrence("0 9 * * mon-fri", "Europe/Paris", before) <= job.run_at
    assert job.run_at <= app.next_occurrence("0 9 * * mon-fri", "Europe/Paris", after)

    # The user changes the schedule: the same pending job moves to the new time.
    moved = app.set_schedule(conn, 7, "30 18 * * *", "America/New_York", "ada@example.com")
    assert pending(conn, key) == [(job.id, moved.run_at)]
    local = moved.run_at.astimezone(NEW_YORK)
    assert (local.hour, local.minute) == (18, 30)

    # 18:30 comes (the test makes the job due now rather than wait): it runs,
    # sends, and enqueues the following occurrence under the same key.
    with pgrun.WorkerUtils(dsn) as utils:
        utils.reschedule_jobs([job.id], run_at=db_now(conn))
    stats = pgrun.run_once(app, connection=dsn)
    assert (stats.completed, stats.failed) == (1, 0)
    assert activity(conn, "reports.send") == [("schedule 7 to ada@example.com", job.id)]

    [(next_id, next_run_at)] = pending(conn, key)
    assert next_id != job.id and next_run_at > db_now(conn) - timedelta(seconds=5)
    local = next_run_at.astimezone(NEW_YORK)
    assert (local.hour, local.minute) == (18, 30)

    # Removing the schedule removes its pending run.
    app.remove_schedule(conn, 7)
    assert pending(conn, key) == []


# ---------------------------------------------------------------- step 3


def test_3_run_now_runs_at_once_and_the_schedule_goes_on(dsn, conn):
    key = app.schedule_key(8)
    scheduled = app.set_schedule(conn, 8, "0 9 1 * *", "Europe/Paris", "grace@example.com")  # monthly

    now_job = app.run_now(conn, 8)
    assert now_job.id == scheduled.id and now_job.run_at <= db_now(conn)  # the same job, due now
    stats = pgrun.run_once(app, connection=dsn)
    assert (stats.completed, stats.failed) == (1, 0)
    assert activity(conn, "reports.send") == [("schedule 8 to grace@example.com", scheduled.id)]

    # The schedule continues: one pending run, at the next 1st of the month, 09:00 in Paris.
    [(_, next_run_at)] = pending(conn, key)
    local = next_run_at.astimezone(PARIS)
    assert (local.day, local.hour, local.minute) == (1, 9, 0)
    assert next_run_at == app.next_occurrence("0 9 1 * *", "Europe/Paris", db_now(conn))

    with pytest.raises(LookupError):
        app.run_now(conn, 999)


# ---------------------------------------------------------------- step 4


def test_4_two_schedulers_enqueue_each_tick_once(dsn, conn):
    items = parse_crontab(app.SYSTEM_CRONTAB)

    async def race():
        pools = [await open_pool(dsn), await open_pool(dsn)]
        clocks = [HandClock(at(2)), HandClock(at(2, 30))]
        schedulers = [CronScheduler(pool, "pgrun", items, clock)
                      for pool, clock in zip(pools, clocks, strict=True)]
        try:
            await asyncio.gather(*(s.start() for s in schedulers))
            for minute in (5, 10, 15, 20):
                for clock in clocks:
                    clock.current = at(minute)
                done = await asyncio.gather(*(s.step() for s in schedulers))
                # both dealt with the tick; the database let exactly one enqueue it
                assert [d.tick for ticks in done for d in ticks] == [at(minute, 0)] * 2
                assert sum(d.job_id is not None for ticks in done for d in ticks) == 1
                # two workers race for the job; it runs once
                stats = await asyncio.gather(*(pgrun.run_once_async(app, connection=dsn) for _ in range(2)))
                assert sum(s.completed for s in stats) == 1 and sum(s.failed for s in stats) == 0
        finally:
            for pool in pools:
                await pool.close()

    asyncio.run(race())
    assert [ts for ts, _ in activity(conn, "session.cleanup")] == [
        f"2024-05-01T10:{m:02d}:00.000Z" for m in (5, 10, 15, 20)]


def test_4_two_workers_run_each_due_schedule_once(dsn, conn):
    for n in range(1, 6):
        app.set_schedule(conn, n, "0 9 * * *", "UTC", f"user{n}@example.com")
        app.run_now(conn, n)

    async def race():
        return await asyncio.gather(*(pgrun.run_once_async(app, connection=dsn) for _ in range(2)))

    stats = asyncio.run(race())
    assert sum(s.completed for s in stats) == 5 and sum(s.failed for s in stats) == 0
    sent = activity(conn, "reports.send")
    assert sorted(detail for detail, _ in sent) == [
        f"schedule {n} to user{n}@example.com" for n in range(1, 6)]
    assert len({job_id for _, job_id in sent}) == 5
    # and each schedule still has exactly one pending run, tomorrow's (or today's) 09:00 UTC
    rows = conn.execute(
        "select key, count(*), min(run_at) from pgrun.jobs group by key order by key").fetchall()
    assert [(k, c) for k, c, _ in rows] == [(app.schedule_key(n), 1) for n in range(1, 6)]
    assert all(run_at.astimezone(UTC).hour == 9 for _, _, run_at in rows)
