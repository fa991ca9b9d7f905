"""Cron for pgrun: crontab items turned into jobs, each tick once across
every instance, with backfill and time zones. docs/cron.md is the guide."""

from .listing import CronListRow, cron_list
from .parse import CronItem, check_unique_ids, parse_crontab, parse_crontab_file, parse_time_phrase
from .scheduler import Clock, CronScheduler, EnqueuedTick, SystemClock

__all__ = [
    "Clock",
    "CronItem",
    "CronListRow",
    "CronScheduler",
    "EnqueuedTick",
    "SystemClock",
    "check_unique_ids",
    "cron_list",
    "parse_crontab",
    "parse_crontab_file",
    "parse_time_phrase",
]
