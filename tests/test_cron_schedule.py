"""When items fire: Graphile Worker's matching rules, time zones, and daylight
saving time as croniter handles it (docs/cron.md describes these cases)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cron_support import UTC, utc
from pgrun.cron import parse_crontab
from pgrun.cron.schedule import first_tick_at_or_after, next_tick, ticks_between


def ticks(line: str, start, end) -> list[str]:
    [item] = parse_crontab(line)
    return [t.strftime("%Y-%m-%d %H:%M") for t in ticks_between(item.expression, item.tz, start, end)]


def test_minute_fields_match_like_cron():
    assert ticks("*/20 * * * * t", utc(2024, 5, 1, 10, 0), utc(2024, 5, 1, 11, 0)) == [
        "2024-05-01 10:20", "2024-05-01 10:40", "2024-05-01 11:00"]
    assert ticks("5,7-8 10 * * * t", utc(2024, 5, 1), utc(2024, 5, 2)) == [
        "2024-05-01 10:05", "2024-05-01 10:07", "2024-05-01 10:08"]


def test_ticks_between_excludes_the_start_and_includes_the_end():
    assert ticks("0 * * * * t", utc(2024, 5, 1, 10), utc(2024, 5, 1, 12)) == [
        "2024-05-01 11:00", "2024-05-01 12:00"]


def test_day_of_month_or_day_of_week_when_both_are_restricted():
    # 2024-05: the 1st is a Wednesday; Mondays are the 6th, 13th, 20th, 27th
    assert ticks("0 0 1 * 1 t", utc(2024, 4, 30), utc(2024, 5, 31)) == [
        "2024-05-01 00:00", "2024-05-06 00:00", "2024-05-13 00:00", "2024-05-20 00:00", "2024-05-27 00:00"]
    # only one restricted: that one decides (a full range counts as '*', as in Graphile Worker)
    assert ticks("0 0 1-31 * 1 t", utc(2024, 4, 30), utc(2024, 5, 31)) == [
        "2024-05-06 00:00", "2024-05-13 00:00", "2024-05-20 00:00", "2024-05-27 00:00"]


def test_sunday_is_0_or_7():
    assert ticks("0 0 * * 7 t", utc(2024, 5, 1), utc(2024, 5, 14)) == ["2024-05-05 00:00", "2024-05-12 00:00"]
    assert ticks("0 0 * * 0 t", utc(2024, 5, 1), utc(2024, 5, 14)) == ["2024-05-05 00:00", "2024-05-12 00:00"]


def test_leap_day_schedule_fires_every_four_years():
    [item] = parse_crontab("0 0 29 2 * t")
    assert next_tick(item.expression, item.tz, utc(2024, 3, 1)) == utc(2028, 2, 29)


def test_time_zone_moves_the_ticks():
    assert ticks("0 9 * * * t ?tz=Europe/Paris", utc(2024, 1, 10), utc(2024, 1, 11)) == ["2024-01-10 08:00"]
    assert ticks("0 9 * * * t ?tz=Europe/Paris", utc(2024, 7, 10), utc(2024, 7, 11)) == ["2024-07-10 07:00"]
    assert ticks("0 9 * * * t ?tz=Asia/Kolkata", utc(2024, 7, 10), utc(2024, 7, 11)) == ["2024-07-10 03:30"]


def test_first_tick_at_or_after_includes_an_exact_tick():
    [item] = parse_crontab("* * * * * t")
    assert first_tick_at_or_after(item.expression, item.tz, utc(2024, 5, 1, 10, 0)) == utc(2024, 5, 1, 10, 0)
    just_after = utc(2024, 5, 1, 10, 0) + timedelta(microseconds=1)
    assert first_tick_at_or_after(item.expression, item.tz, just_after) == utc(2024, 5, 1, 10, 1)


# Daylight saving time, as croniter does it. Paris: on 2024-03-31 clocks jump
# from 02:00 to 03:00; on 2024-10-27 they fall back from 03:00 to 02:00.

def test_spring_forward_moves_a_0230_job_to_0300_local():
    # 02:30 does not exist that night: the job runs once, at 03:00 CEST (01:00 UTC)
    assert ticks("30 2 * * * t ?tz=Europe/Paris", utc(2024, 3, 30, 12), utc(2024, 4, 1, 12)) == [
        "2024-03-31 01:00", "2024-04-01 00:30"]


def test_spring_forward_hourly_job_skips_the_missing_hour():
    assert ticks("0 * * * * t ?tz=Europe/Paris", utc(2024, 3, 30, 23, 30), utc(2024, 3, 31, 2, 30)) == [
        "2024-03-31 00:00", "2024-03-31 01:00", "2024-03-31 02:00"]  # 01:00 CET, 03:00 and 04:00 CEST


def test_fall_back_runs_a_0230_job_twice():
    # 02:30 happens twice that night (CEST, then CET): croniter fires at both
    assert ticks("30 2 * * * t ?tz=Europe/Paris", utc(2024, 10, 26, 12), utc(2024, 10, 28, 12)) == [
        "2024-10-27 00:30", "2024-10-27 01:30", "2024-10-28 01:30"]


def test_fall_back_in_new_york_repeats_0130_not_0230():
    # New York falls back from 02:00 to 01:00 on 2024-11-03: 01:30 repeats, 02:30 happens once
    assert ticks("30 1 * * * t ?tz=America/New_York", utc(2024, 11, 2, 12), utc(2024, 11, 3, 12)) == [
        "2024-11-03 05:30", "2024-11-03 06:30"]
    assert ticks("30 2 * * * t ?tz=America/New_York", utc(2024, 11, 2, 12), utc(2024, 11, 3, 12)) == [
        "2024-11-03 07:30"]


def test_utc_items_have_no_daylight_saving_time():
    assert ticks("30 2 * * * t", utc(2024, 3, 30, 12), utc(2024, 4, 1, 12)) == [
        "2024-03-31 02:30", "2024-04-01 02:30"]


@pytest.mark.parametrize("zone, day", [
    ("Europe/Paris", (2024, 3, 31)), ("Europe/Paris", (2024, 10, 27)),
    ("America/New_York", (2024, 3, 10)), ("America/New_York", (2024, 11, 3)),
])
@pytest.mark.parametrize("schedule", ["30 2 * * *", "30 1 * * *", "*/7 1-3 * * *", "0 * * * *"])
def test_every_instance_finds_the_same_ticks_wherever_it_starts(zone, day, schedule):
    """Instances that start at different moments must agree on the ticks, or
    one could skip a tick another never enqueues."""
    [item] = parse_crontab(f"{schedule} t ?tz={zone}")
    # from 18:00 the evening before to 06:00 local, across the change
    start = (datetime(*day, tzinfo=ZoneInfo(zone)) - timedelta(hours=6)).astimezone(UTC)
    full = ticks_between(item.expression, item.tz, start, start + timedelta(hours=48))
    moment = start
    while moment < start + timedelta(hours=12):
        expected = next(t for t in full if t > moment)
        assert next_tick(item.expression, item.tz, moment) == expected, moment
        moment += timedelta(minutes=1)
    assert all(t.tzinfo == UTC and t.second == 0 for t in full)
