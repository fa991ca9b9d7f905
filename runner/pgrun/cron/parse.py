"""Crontab text to cron items.

A line is Graphile Worker's: five time fields, a task identifier, optional
`?opts` in query-string syntax and an optional JSON payload object:

    30 4 * * 1 send_weekly_email ?fill=2d&max=10&tz=Europe/Paris {"onboarding": false}

Lines starting with `#` and blank lines are skipped. A line `TZ=Europe/Paris`
sets the time zone of the lines below it (until the next `TZ=` line); `?tz=`
on a line overrides it; without either, times are UTC. docs/cron.md is the
user's reference.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from os import PathLike
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from croniter import CroniterBadDateError

from ..errors import CrontabError
from . import relaxed_json
from .schedule import UTC, compile_schedule, next_tick, zone

OPTIONS = ("id", "fill", "max", "queue", "jobKey", "jobKeyMode", "priority", "tz")
JOB_KEY_MODES = ("replace", "preserve_run_at", "unsafe_dedupe")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/-]*")
_TIME_PHRASE = re.compile(r"(?:\d+[smhdw])+")
_TIME_PHRASE_PART = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_SETTING = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")
_TIME_FIELDS = re.compile(r"(\S+\s+\S+\s+\S+\s+\S+\s+\S+)(?:\s+(.*))?")
_COMMAND = re.compile(r"(\S+)(?:\s+(\?\S*))?(?:\s+(.*))?")
# a moment to look for a schedule's first tick from, to refuse schedules that never fire
_PROBE_FROM = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CronItem:
    """One recurring job: a crontab line, or built in Python with the same checks.

    `id` names the item in the database bookkeeping (default: the task
    identifier); keep it stable, since a renamed item is a new item.
    """

    schedule: str
    task: str
    id: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict, hash=False)
    fill: timedelta = timedelta(0)
    max_attempts: int | None = None
    queue: str | None = None
    job_key: str | None = None
    job_key_mode: str | None = None
    priority: int | None = None
    tz: str = "UTC"
    # where the item was written, for messages
    source: str = "<python>"
    line: int | None = None
    # the schedule as an explicit croniter expression
    expression: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", self.task)
        try:
            object.__setattr__(self, "expression", self._check())
        except ValueError as error:
            raise CrontabError(problems=((self.source, self.line, str(error)),)) from None

    def _check(self) -> str:
        if not isinstance(self.task, str) or not _is_identifier(self.task):
            raise ValueError(
                f"task identifier {self.task!r} is not valid: use letters, digits and _ . : / -, "
                "starting with a letter or _, at most 128 characters")
        if not _is_identifier(self.id):
            raise ValueError(
                f"id {self.id!r} is not valid: use letters, digits and _ . : / -, "
                "starting with a letter or _, at most 128 characters")
        zone(self.tz)
        expression = compile_schedule(self.schedule)
        try:
            next_tick(expression, self.tz, _PROBE_FROM)
        except CroniterBadDateError:
            raise ValueError(f"schedule {self.schedule!r} never fires") from None
        if not isinstance(self.payload, Mapping):
            raise ValueError(f"payload must be a JSON object, not {type(self.payload).__name__}")
        try:
            json.dumps(self.payload, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError(f"payload cannot be stored as JSON: {error}") from None
        if not isinstance(self.fill, timedelta) or self.fill < timedelta(0):
            raise ValueError(f"fill must be a duration of zero or more, not {self.fill!r}")
        _check_int("max", self.max_attempts, 1, 32767)
        _check_int("priority", self.priority, -32768, 32767)
        if self.queue is not None and not 1 <= len(self.queue) <= 128:
            raise ValueError(f"queue name must be 1 to 128 characters, not {len(self.queue)}")
        if self.job_key is not None and not 1 <= len(self.job_key) <= 512:
            raise ValueError(f"jobKey must be 1 to 512 characters, not {len(self.job_key)}")
        if self.job_key_mode is not None:
            if self.job_key_mode not in JOB_KEY_MODES:
                raise ValueError(f"jobKeyMode {self.job_key_mode!r} is not one of "
                                 + ", ".join(JOB_KEY_MODES))
            if self.job_key is None:
                raise ValueError("jobKeyMode is given without jobKey")
        return expression


def parse_crontab(text: str, source: str = "<string>") -> list[CronItem]:
    """The items of a crontab; CrontabError lists every bad line (file:line: what)."""
    items: list[CronItem] = []
    problems: list[tuple[str, int | None, str]] = []
    default_tz = "UTC"
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            setting = _SETTING.fullmatch(line)
            if setting:
                default_tz = _parse_setting(*setting.groups())
            else:
                items.append(_parse_line(line, default_tz, source, number))
        except ValueError as error:
            problems.append((source, number, str(error)))
        except CrontabError as error:
            problems.extend(error.problems)
    problems.extend(_duplicate_ids(items))
    if problems:
        problems.sort(key=lambda problem: problem[1] or 0)
        raise CrontabError(problems=tuple(problems))
    return items


def parse_crontab_file(path: str | PathLike[str]) -> list[CronItem]:
    """The items of the crontab file at `path`."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
        raise CrontabError(f"cannot read crontab {path}: {reason}") from None
    return parse_crontab(text, source=str(path))


def check_unique_ids(items: Iterable[CronItem]) -> None:
    """CrontabError if two items share an id (each id is one row of bookkeeping)."""
    problems = _duplicate_ids(list(items))
    if problems:
        raise CrontabError(problems=tuple(problems))


def parse_time_phrase(phrase: str) -> timedelta:
    """`1w2d3h4m5s` (any of the parts, in any order) as a duration."""
    if not _TIME_PHRASE.fullmatch(phrase):
        raise ValueError(f"{phrase!r} is not a time phrase such as 1h, 2d or 1w2d3h4m5s "
                         "(units s, m, h, d, w)")
    total = timedelta(0)
    try:
        for count, unit in _TIME_PHRASE_PART.findall(phrase):
            total += timedelta(**{_UNITS[unit]: int(count)})
    except OverflowError:
        raise ValueError(f"{phrase!r} is too long a time (at most 999999999 days)") from None
    return total


def _parse_setting(name: str, value: str) -> str:
    if name not in ("TZ", "CRON_TZ"):
        raise ValueError(f"unknown setting {name}= (only TZ= is understood, for the time zone "
                         "of the lines below it)")
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    zone(value)
    return value


def _parse_line(line: str, default_tz: str, source: str, number: int) -> CronItem:
    match = _TIME_FIELDS.fullmatch(line)
    if not match:
        raise ValueError("expected five time fields (minute hour day-of-month month day-of-week) "
                         "and a task identifier")
    schedule, command = match.groups()
    try:
        compile_schedule(schedule)  # a bad time field is reported before the rest of the line
    except ValueError as error:
        if command is None:  # five words in all: a time field is probably missing
            raise ValueError(f"{error} (a line needs five time fields, then the task identifier)") from None
        raise
    if not command:
        raise ValueError("missing the task identifier after the five time fields")
    task, opts, rest = _COMMAND.fullmatch(command).groups()
    if task.startswith(("?", "{")):
        raise ValueError("missing the task identifier after the five time fields")
    if not _is_identifier(task):
        hint = " (put a space before ?options)" if "?" in task else ""
        raise ValueError(
            f"task identifier {task!r} is not valid: use letters, digits and _ . : / -, "
            f"starting with a letter or _, at most 128 characters{hint}")
    options = _parse_options(opts[1:]) if opts else {}
    payload: Mapping[str, Any] = {}
    if rest:
        if not rest.startswith("{"):
            raise ValueError(f"unexpected {rest!r} after the task identifier: options start "
                             "with '?' and come first, a payload is a JSON object starting with '{'")
        try:
            payload = relaxed_json.loads(rest)
        except ValueError as error:
            raise ValueError(f"payload is not valid JSON: {error}") from None
        except RecursionError:
            raise ValueError("payload is nested too deeply to read") from None
        if not isinstance(payload, dict):
            raise ValueError("payload must be a JSON object")
    tz = options.get("tz", default_tz)
    return CronItem(
        schedule=schedule, task=task, id=options.get("id", ""), payload=payload,
        fill=parse_time_phrase(options["fill"]) if "fill" in options else timedelta(0),
        max_attempts=_int_option(options, "max"), queue=options.get("queue"),
        job_key=options.get("jobKey"), job_key_mode=options.get("jobKeyMode"),
        priority=_int_option(options, "priority"), tz=tz, source=source, line=number)


def _parse_options(text: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for part in text.split("&"):
        if not part:
            continue
        key, equals, value = part.partition("=")
        key, value = unquote_plus(key), unquote_plus(value)
        if key not in OPTIONS:
            raise ValueError(f"unknown option {key!r}; the options are " + ", ".join(OPTIONS))
        if not equals or not value:
            raise ValueError(f"option {key!r} has no value (write {key}=VALUE)")
        if key in options:
            raise ValueError(f"option {key!r} is given more than once")
        options[key] = value
    if "fill" in options:
        try:
            parse_time_phrase(options["fill"])
        except ValueError as error:
            raise ValueError(f"option 'fill': {error}") from None
    return options


def _int_option(options: dict[str, str], name: str) -> int | None:
    if name not in options:
        return None
    value = options[name]
    if not re.fullmatch(r"-?\d+", value):
        raise ValueError(f"option {name!r} must be a whole number, not {value!r}")
    return int(value)


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, not {value!r}")


def _is_identifier(text: str) -> bool:
    return isinstance(text, str) and len(text) <= 128 and _IDENTIFIER.fullmatch(text) is not None


def _duplicate_ids(items: list[CronItem]) -> list[tuple[str, int | None, str]]:
    seen: dict[str, CronItem] = {}
    problems = []
    for item in items:
        first = seen.setdefault(item.id, item)
        if first is not item:
            where = f"line {first.line}" if first.source == item.source and first.line else (
                f"{first.source}:{first.line}" if first.line else first.source)
            problems.append((item.source, item.line,
                             f"duplicate id {item.id!r} (also on {where}); give one of them "
                             "?id=... to tell them apart"))
    return problems
