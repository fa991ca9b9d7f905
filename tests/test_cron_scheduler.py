"""CronScheduler against a real database, on a clock the tests move by hand:
on-time ticks, backfill after downtime, catch-up after a suspension, first-seen
items, DST, and several instances racing on the same ticks."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime, timedelta, timezone

import pytest
from psycopg_pool import AsyncConnectionPool

from cron_support import FakeClock, cron_jobs, iso, open_pool, utc
from pgrun.cron import CronItem, CronScheduler, parse_crontab
from pgrun.errors import CrontabError


def run(coroutine):
    return asyncio.run(coroutine)


async def scheduler_at(dsn, crontab: str, when: datetime, **kwargs):
    """A started scheduler whose clock reads `when`; the caller closes scheduler.pool."""
    clock = FakeClock(when)
    pool_cm = open_pool(dsn)
    pool = await pool_cm.__aenter__()
    scheduler = CronScheduler(pool, "pgrun", parse_crontab(crontab), clock, **kwargs)
    scheduler.pool_cm = pool_cm  # type: ignore[attr-defined]
    await scheduler.start()
    return scheduler, clock


async def close(*schedulers):
    for scheduler in schedulers:
        await scheduler.pool_cm.__aexit__(None, None, None)


async def step_through(scheduler, clock, until: datetime, every=timedelta(minutes=1)):
    """Steps at `every` interval (a few seconds after each boundary) up to `until`."""
    while clock.now() + every <= until:
        clock.advance(seconds=every.total_seconds())
        await scheduler.step()


def test_a_tick_is_enqueued_on_time_with_its_options_and_payload(dsn, conn):
    async def scenario():
        scheduler, clock = await scheduler_at(
            dsn, '*/5 * * * * report ?max=3&queue=reports&priority=2 {"kind": "short"}',
            utc(2024, 5, 1, 10, 2, 10))
        assert await scheduler.step() == []  # 10:00 came before the item was known
        clock.set(utc(2024, 5, 1, 10, 5, 0, 4000))
        [done] = await scheduler.step()
        assert (done.item_id, done.tick, done.backfilled) == ("report", utc(2024, 5, 1, 10, 5), False)
        assert done.job_id is not None
        await close(scheduler)

    run(scenario())
    job = conn.execute("select task_identifier, payload, run_at, max_attempts, queue_name, priority"
                       " from pgrun.jobs").fetchone()
    payload = {"kind": "short", "_cron": {"ts": "2024-05-01T10:05:00.000Z", "backfilled": False}}
    assert job == ("report", payload, utc(2024, 5, 1, 10, 5), 3, "reports", 2)


def test_a_first_seen_item_is_not_backfilled(dsn, conn):
    async def scenario():
        scheduler, clock = await scheduler_at(dsn, "0 * * * * hourly ?fill=1w", utc(2024, 5, 1, 10, 30))
        await step_through(scheduler, clock, utc(2024, 5, 1, 12, 30))
        await close(scheduler)

    run(scenario())
    assert cron_jobs(conn) == [("hourly", iso(utc(2024, 5, 1, 11)), False),
                               ("hourly", iso(utc(2024, 5, 1, 12)), False)]


def test_after_downtime_ticks_within_fill_run_once_each_marked_backfilled(dsn, conn):
    crontab = "0 * * * * hourly ?fill=2h\n0 * * * * no_fill\n"

    async def scenario():
        first, clock = await scheduler_at(dsn, crontab, utc(2024, 5, 1, 9, 59, 30))
        await step_through(first, clock, utc(2024, 5, 1, 10, 0, 30))  # enqueues 10:00, then "dies"
        await close(first)
        # Back at 13:30: 11:00 is older than 2h, 12:00 and 13:00 are within the window.
        second, clock = await scheduler_at(dsn, crontab, utc(2024, 5, 1, 13, 30, 10))
        done = await second.step()
        assert [(d.item_id, d.tick.hour, d.backfilled) for d in done] == [
            ("hourly", 12, True), ("hourly", 13, True)]
        # A third instance starting a moment later finds nothing left to do.
        third, _ = await scheduler_at(dsn, crontab, utc(2024, 5, 1, 13, 30, 20))
        assert await third.step() == []
        await step_through(second, clock, utc(2024, 5, 1, 14, 0, 30))
        await close(second, third)

    run(scenario())
    assert cron_jobs(conn) == [
        ("hourly", iso(utc(2024, 5, 1, 10)), False), ("no_fill", iso(utc(2024, 5, 1, 10)), False),
        ("hourly", iso(utc(2024, 5, 1, 12)), True), ("hourly", iso(utc(2024, 5, 1, 13)), True),
        ("hourly", iso(utc(2024, 5, 1, 14)), False), ("no_fill", iso(utc(2024, 5, 1, 14)), False),
    ]


def test_backfill_starts_after_the_last_execution_and_never_repeats(dsn, conn):
    crontab = "*/10 * * * * often ?fill=1d"

    async def scenario():
        for start, end in [(utc(2024, 5, 1, 9, 55), utc(2024, 5, 1, 10, 5)),  # enqueues 10:00
                           (utc(2024, 5, 1, 10, 45), utc(2024, 5, 1, 10, 45)),  # backfills 10:10-10:40
                           (utc(2024, 5, 1, 10, 55, 30), utc(2024, 5, 1, 10, 55, 30))]:  # 10:50
            scheduler, clock = await scheduler_at(dsn, crontab, start)
            await scheduler.step()
            await step_through(scheduler, clock, end)
            await close(scheduler)

    run(scenario())
    ts = [(tick, backfilled) for _, tick, backfilled in cron_jobs(conn)]
    assert ts == [(iso(utc(2024, 5, 1, 10, 0)), False)] + [
        (iso(utc(2024, 5, 1, 10, m)), True) for m in (10, 20, 30, 40, 50)]


def test_an_item_known_but_never_run_is_filled_from_when_it_became_known(dsn, conn):
    async def scenario():
        first, _ = await scheduler_at(dsn, "0 * * * * hourly ?fill=1d", utc(2024, 5, 1, 10, 30))
        await close(first)  # registered at 10:30, stopped before 11:00
        second, _ = await scheduler_at(dsn, "0 * * * * hourly ?fill=1d", utc(2024, 5, 1, 12, 0, 20))
        await second.step()
        await close(second)

    run(scenario())
    assert cron_jobs(conn) == [("hourly", iso(utc(2024, 5, 1, 11)), True),
                               ("hourly", iso(utc(2024, 5, 1, 12)), False)]


def test_a_suspended_process_catches_up_within_the_catch_up_window(dsn, conn, caplog):
    async def scenario():
        scheduler, clock = await scheduler_at(dsn, "* * * * * every_minute", utc(2024, 5, 1, 10, 0, 30),
                                              catch_up=timedelta(minutes=30))
        clock.set(utc(2024, 5, 1, 10, 1, 0, 5000))
        await scheduler.step()
        clock.set(utc(2024, 5, 1, 10, 4, 2))  # asleep for three minutes
        done = await scheduler.step()
        assert [(d.tick.minute, d.backfilled) for d in done] == [(2, True), (3, True), (4, False)]
        clock.set(utc(2024, 5, 1, 11, 0, 1))  # asleep for an hour: only the last 30 minutes are caught up
        with caplog.at_level(logging.WARNING, logger="pgrun.cron"):
            done = await scheduler.step()
        # 10:30 is 30 min 1 s old: outside the window
        expected = [utc(2024, 5, 1, 10, m) for m in range(31, 60)] + [utc(2024, 5, 1, 11)]
        assert [d.tick for d in done] == expected
        assert all(d.backfilled for d in done[:-1]) and not done[-1].backfilled
        await close(scheduler)

    run(scenario())
    assert len(cron_jobs(conn)) == 1 + 3 + 30
    assert ("item every_minute: skipping its ticks from 2024-05-01 10:05 UTC to before "
            "2024-05-01 10:31 UTC: older than the catch-up window") in caplog.text


def test_fill_longer_than_catch_up_governs_a_suspended_process(dsn, conn):
    async def scenario():
        scheduler, clock = await scheduler_at(dsn, "0 * * * * hourly ?fill=6h", utc(2024, 5, 1, 9, 59, 59),
                                              catch_up=timedelta(minutes=5))
        clock.set(utc(2024, 5, 1, 14, 30))  # suspended for four and a half hours
        done = await scheduler.step()
        assert [(d.tick.hour, d.backfilled) for d in done] == [(10, True), (11, True), (12, True), (13, True),
                                                               (14, True)]
        await close(scheduler)

    run(scenario())


def test_daylight_saving_time_end_to_end(dsn, conn):
    crontab = "TZ=Europe/Paris\n30 2 * * * nightly\n"

    async def scenario():
        for start, end in [(utc(2024, 3, 30, 23), utc(2024, 3, 31, 2)),
                           (utc(2024, 10, 26, 23), utc(2024, 10, 27, 2))]:
            scheduler, clock = await scheduler_at(dsn, crontab, start)
            await step_through(scheduler, clock, end)
            await close(scheduler)

    run(scenario())
    assert cron_jobs(conn) == [
        ("nightly", "2024-03-31T01:00:00.000Z", False),  # 02:30 does not exist: 03:00 CEST
        ("nightly", "2024-10-27T00:30:00.000Z", False),  # 02:30 CEST
        ("nightly", "2024-10-27T01:30:00.000Z", False),  # 02:30 CET, an hour later
    ]


def test_several_instances_racing_enqueue_each_tick_once(dsn, conn):
    crontab = ("* * * * * every_minute ?fill=30m\n"
               "*/2 * * * * every_other ?fill=1h {\"n\": 2}\n"
               "*/3 * * * * third ?id=third_a {\"copy\": \"a\"}\n"
               "*/3 * * * * third ?id=third_b {\"copy\": \"b\"}\n")

    attempts: dict[tuple[str, datetime], list[int | None]] = {}

    async def instance(start: datetime, end: datetime, seed: int):
        scheduler, clock = await scheduler_at(dsn, crontab, start)
        rng = random.Random(seed)
        done = await scheduler.step()
        while clock.now() < end:
            clock.advance(seconds=60)
            await asyncio.sleep(rng.random() / 100)  # shuffle who gets there first
            done += await scheduler.step()
        await close(scheduler)
        return done

    async def scenario():
        # First life: 10:00-10:20. Then downtime, and six instances come up together.
        await instance(utc(2024, 5, 1, 9, 59, 50), utc(2024, 5, 1, 10, 20), 0)
        start = utc(2024, 5, 1, 10, 45, 2)
        results = await asyncio.gather(*(instance(start, start + timedelta(minutes=15), seed)
                                         for seed in range(6)))
        for done in results:
            for d in done:
                attempts.setdefault((d.item_id, d.tick), []).append(d.job_id)

    run(scenario())
    rows = conn.execute(
        "select task_identifier, payload::text, count(*)"
        " from pgrun.jobs group by 1, 2 having count(*) > 1").fetchall()
    assert rows == []
    per_item = {}
    for task, ts, backfilled in cron_jobs(conn):
        per_item.setdefault(task, []).append((ts[11:16], backfilled))
    # with fill: 10:00-10:20 on time, the downtime's ticks backfilled, 10:45 on (the instances') time
    assert per_item["every_minute"] == [(f"10:{m:02d}", 20 < m < 45) for m in range(60)] + [("11:00", False)]
    assert per_item["every_other"] == [(f"10:{m:02d}", 20 < m < 45) for m in range(0, 60, 2)] + [
        ("11:00", False)]
    # no fill: the downtime's ticks are skipped; each of the two ids has its own ticks
    expected_third = [(f"10:{m:02d}", False) for m in (0, 3, 6, 9, 12, 15, 18, 45, 48, 51, 54, 57)] + [
        ("11:00", False)]
    assert per_item["third"] == sorted(expected_third * 2)
    # after the downtime: 40 + 20 + 2 * 6 ticks, each won by exactly one instance,
    # and most of them tried by every instance (an instance that registered after
    # others had backfilled some ticks starts after those)
    assert len(attempts) == 40 + 20 + 2 * 6
    for key, job_ids in attempts.items():
        assert sum(job_id is not None for job_id in job_ids) == 1, key
    assert sum(len(job_ids) == 6 for job_ids in attempts.values()) >= 30


def test_run_wakes_at_each_minute_boundary_and_stops(dsn, conn):
    async def scenario():
        clock = FakeClock(utc(2024, 5, 1, 10, 0, 20))
        stop = asyncio.Event()

        def stop_after_three_minutes(clock):
            if clock.now() >= utc(2024, 5, 1, 10, 3, 30):
                stop.set()

        clock.on_sleep = stop_after_three_minutes
        async with open_pool(dsn) as pool:
            scheduler = CronScheduler(pool, "pgrun", parse_crontab("* * * * * tick"), clock)
            await asyncio.wait_for(scheduler.run(stop), timeout=10)
        # each sleep ends just past a boundary, and no sleep is longer than 10 s
        assert max(clock.sleeps) <= 10.0
        return clock

    run(scenario())
    assert cron_jobs(conn) == [("tick", iso(utc(2024, 5, 1, 10, m)), False) for m in (1, 2, 3)]


def test_run_retries_when_the_database_is_unreachable(caplog):
    async def scenario():
        clock = FakeClock(utc(2024, 5, 1, 10, 0, 20))
        stop = asyncio.Event()
        clock.on_sleep = lambda clock: stop.set() if len(clock.sleeps) >= 3 else None
        pool = AsyncConnectionPool("host=127.0.0.1 port=1 dbname=nowhere connect_timeout=1", open=False,
                                   min_size=1, max_size=1, timeout=0.2)
        await pool.open(wait=False)
        try:
            scheduler = CronScheduler(pool, "pgrun", parse_crontab("* * * * * tick"), clock)
            with caplog.at_level(logging.WARNING, logger="pgrun.cron"):
                await asyncio.wait_for(scheduler.run(stop), timeout=20)
        finally:
            await pool.close()
        return clock.sleeps

    sleeps = run(scenario())
    assert sleeps[:3] == [1.0, 2.0, 5.0]
    assert "cron: database call failed" in caplog.text


def test_a_tick_the_database_refuses_is_retried_and_logged(dsn, conn, caplog):
    """A host clock far ahead of the database's: its ticks are refused, not claimed early."""
    async def scenario():
        ahead = datetime.now(timezone.utc) + timedelta(minutes=10)
        scheduler, clock = await scheduler_at(dsn, "* * * * * tick", ahead)
        clock.advance(minutes=1)
        with caplog.at_level(logging.ERROR, logger="pgrun.cron"):
            assert await scheduler.step() == []
            assert await scheduler.step() == []
        await close(scheduler)

    run(scenario())
    assert cron_jobs(conn) == []
    assert conn.execute("select last_execution from pgrun._private_known_crontabs").fetchone() == (None,)
    assert caplog.text.count("is in the future by the database clock") == 2


def test_python_items_and_duplicate_ids(dsn):
    items = [CronItem("0 * * * *", "a"), CronItem("0 * * * *", "a")]
    with pytest.raises(CrontabError, match="duplicate id 'a'"):
        CronScheduler(None, "pgrun", items)  # type: ignore[arg-type]
