"""When a cron item fires: its five time fields, its time zone, its ticks.

The fields are checked here (Graphile Worker's syntax, plus `a-b/n` ranges and
month and weekday names) and rewritten as an explicit croniter expression;
croniter then finds the ticks in the item's time zone, so daylight saving time
is handled the way croniter handles it (docs/cron.md shows what that means).
Every tick is returned as an aware UTC datetime on a whole minute.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

UTC = timezone.utc
MINUTE = timedelta(minutes=1)

# (name, lowest, highest, names for values)
_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, {name: number for number, name in enumerate(
        "jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}),
    ("day-of-week", 0, 6, {name: number for number, name in enumerate(
        "sun mon tue wed thu fri sat".split())}),
)
_PART = re.compile(r"^(?:(\*)|(\w+)(?:-(\w+))?)(?:/(\d+))?$")


def compile_schedule(schedule: str) -> str:
    """The croniter expression for five crontab time fields; ValueError says what is wrong.

    Each field becomes `*` when it allows every value and an explicit list
    otherwise, which keeps cron's rule that a day-of-month and a day-of-week
    that are both restricted match when either does (as Graphile Worker does).
    """
    fields = schedule.split()
    if len(fields) != 5:
        raise ValueError(
            f"expected five time fields (minute hour day-of-month month day-of-week), "
            f"found {len(fields)} in {schedule!r}")
    return " ".join(_compile_field(text, *spec) for text, spec in zip(fields, _FIELDS, strict=True))


def _compile_field(text: str, name: str, low: int, high: int, names: dict[str, int]) -> str:
    weekday = name == "day-of-week"
    # 7 is Sunday too, as in most crons
    top = 7 if weekday else high

    def number(token: str) -> int:
        if token.isascii() and token.isdigit():  # '²' is a digit to str.isdigit, not to int()
            value = int(token)
        elif token.lower() in names:
            value = names[token.lower()]
        else:
            raise ValueError(f"{name} field {text!r}: {token!r} is not a number"
                             + (" or a name" if names else ""))
        if not low <= value <= top:
            raise ValueError(f"{name} field {text!r}: {value} is out of range {low}-{top}")
        return value

    values: set[int] = set()
    for part in text.split(","):
        match = _PART.match(part)
        if not match:
            raise ValueError(f"{name} field {text!r}: cannot read {part!r} "
                             "(expected a number, a range a-b, * or a step like */5)")
        star, first, last, step_text = match.groups()
        step = int(step_text) if step_text is not None else 1
        if step < 1:
            raise ValueError(f"{name} field {text!r}: the step in {part!r} must be at least 1")
        if star:
            start, end = low, high
        else:
            start = number(first)
            # a lone number with a step (5/15) runs to the end of the field
            end = number(last) if last is not None else (high if step_text is not None else start)
            if weekday and last is not None and end == 0 and start > 0:
                end = 7  # fri-sun
            if end < start:
                raise ValueError(f"{name} field {text!r}: the range {part!r} runs backwards")
        values.update(v % 7 if weekday else v for v in range(start, end + 1, step))
    if values == set(range(low, high + 1)):
        return "*"
    return ",".join(str(v) for v in sorted(values))


@cache
def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`; ValueError if there is no such zone."""
    try:
        return ZoneInfo(name)
    # OSError: a name the file system refuses (too long, a directory such as 'America')
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r} (expected an IANA name such as "
                         "'Europe/Paris' or 'UTC')") from None


def floor_minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def next_tick(expression: str, tz: str, after: datetime) -> datetime:
    """The first tick strictly after `after` (an aware datetime), in UTC."""
    start = floor_minute(after).astimezone(zone(tz))
    tick = croniter(expression, start).get_next(datetime)
    return tick.astimezone(UTC)


def first_tick_at_or_after(expression: str, tz: str, moment: datetime) -> datetime:
    """The first tick at `moment` or later."""
    ceiling = floor_minute(moment)
    if ceiling < moment:
        ceiling += MINUTE
    return next_tick(expression, tz, ceiling - MINUTE)


def ticks_between(expression: str, tz: str, after: datetime, until: datetime) -> list[datetime]:
    """Every tick in (after, until], oldest first."""
    ticks = []
    tick = next_tick(expression, tz, after)
    while tick <= until:
        ticks.append(tick)
        tick = next_tick(expression, tz, tick)
    return ticks
