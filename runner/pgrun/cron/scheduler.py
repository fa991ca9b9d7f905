"""CronScheduler: turns cron items into jobs, tick by tick, once per tick.

The scheduler keeps, for each item, the next tick it has to deal with. On
start it registers its items (cron_register) and begins each one after its
last enqueued tick (or, for an item that has never run, at the moment it
became known). Then it wakes at every minute boundary and hands each due tick,
oldest first, to cron_enqueue_tick, which enqueues it unless some instance
already has: the database decides, so any number of schedulers can run the
same crontab.

Which due ticks are enqueued:
- a tick handled within its own minute is on time (`backfilled: false`);
- a later one is enqueued with `backfilled: true` if it is not older than the
  item's `fill`, or, for ticks that came due while this scheduler was running
  (its process was suspended, the database was unreachable), not older than
  `catch_up` (one hour by default);
- older ticks are skipped, with a log line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Protocol

from .parse import CronItem, check_unique_ids
from .schedule import MINUTE, first_tick_at_or_after, floor_minute, next_tick
from .store import DATABASE_ERRORS, CronStore, TickRefused

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

logger = logging.getLogger("pgrun.cron")

DEFAULT_CATCH_UP = timedelta(hours=1)
# Sleep at most this long before looking at the wall clock again, so that a
# resumed process or a clock that jumped is noticed within seconds.
MAX_SLEEP = 10.0
# Wake this long after a minute boundary, so the boundary has surely passed.
WAKE_DELAY = 0.005
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)


class Clock(Protocol):
    """Where the scheduler reads the time and how it waits (tests inject their own)."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...

    async def sleep(self, seconds: float) -> None:
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class EnqueuedTick:
    """One tick this scheduler handed to the database, and what came of it."""

    item_id: str
    tick: datetime
    backfilled: bool
    job_id: int | None  # None: another instance had enqueued it already


@dataclass
class _Cursor:
    item: CronItem
    next_due: datetime  # the oldest tick of the item not yet dealt with


class CronScheduler:
    """Enqueues the jobs of `items` at their ticks; see the module docstring.

    `pool` connects to the database where pgrun is installed in `schema`.
    `clock` defaults to the system clock; `catch_up` bounds how far back a
    scheduler that fell behind while running enqueues missed ticks.
    """

    def __init__(self, pool: AsyncConnectionPool, schema: str, items: Sequence[CronItem],
                 clock: Clock | None = None, *, catch_up: timedelta = DEFAULT_CATCH_UP) -> None:
        check_unique_ids(items)
        self.items = list(items)
        self.clock = clock or SystemClock()
        self.catch_up = catch_up
        self._store = CronStore(pool, schema)
        self._cursors: list[_Cursor] = []
        self._started_minute: datetime | None = None
        self._stop: asyncio.Event | None = None

    @property
    def started(self) -> bool:
        return self._started_minute is not None

    async def run(self, stop_event: asyncio.Event) -> None:
        """Schedules until `stop_event` is set. Database errors are logged and
        retried with backoff; anything else (a bug) propagates."""
        self._stop = stop_event
        if not self.items:
            await stop_event.wait()
            return
        failures = 0
        while not stop_event.is_set():
            try:
                if not self.started:
                    await self.start()
                await self.step()
            except DATABASE_ERRORS as error:
                delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                failures += 1
                logger.warning("cron: database call failed (%s); retrying in %.0f s",
                               str(error).strip() or type(error).__name__, delay,
                               extra={"error": str(error)})
                await self._wait(delay)
                continue
            failures = 0
            await self._sleep_until_next_minute()

    async def start(self) -> None:
        """Registers the items and sets each one's first tick to deal with."""
        now = self.clock.now()
        known = await self._store.register([item.id for item in self.items], now)
        cursors = []
        for item in self.items:
            row = known[item.id]
            if row.last_execution is not None:
                first = next_tick(item.expression, item.tz, row.last_execution)
            else:
                # never run: from the moment it became known (now, if it is new),
                # so a new item is not backfilled
                first = first_tick_at_or_after(item.expression, item.tz, row.known_since)
            cursors.append(_Cursor(item, first))
            if row.first_seen:
                logger.info("cron: item %s is new; its first tick is %s (a new item is not backfilled)",
                            item.id, _show(first), extra={"cron_item": item.id})
        self._cursors = cursors
        self._started_minute = floor_minute(now)
        if self.items:
            logger.info("cron: scheduling %d item(s): %s", len(self.items),
                        ", ".join(item.id for item in self.items))

    async def step(self) -> list[EnqueuedTick]:
        """Deals with every tick due now, oldest first; returns what it enqueued or found done."""
        if not self.started:
            await self.start()
        now = self.clock.now()
        due: list[tuple[datetime, int]] = []
        for index, cursor in enumerate(self._cursors):
            self._skip_stale(cursor, now)
            tick = cursor.next_due
            while tick <= now:
                due.append((tick, index))
                tick = next_tick(cursor.item.expression, cursor.item.tz, tick)
        due.sort()

        results: list[EnqueuedTick] = []
        stuck: set[int] = set()
        current_minute = floor_minute(now)
        for tick, index in due:
            if index in stuck:
                continue  # an earlier tick of this item failed; keep the order
            if self._stop is not None and self._stop.is_set():
                break
            cursor = self._cursors[index]
            item = cursor.item
            backfilled = tick < current_minute
            try:
                job_id = await self._store.enqueue_tick(item, tick, backfilled)
            except TickRefused as error:
                # The database refused this item's tick; other items go on.
                # The tick stays due and is tried again at the next wake.
                stuck.add(index)
                logger.error("cron: item %s: tick %s refused: %s", item.id, _show(tick), error,
                             extra={"cron_item": item.id})
                continue
            cursor.next_due = next_tick(item.expression, item.tz, tick)
            results.append(EnqueuedTick(item.id, tick, backfilled, job_id))
            if job_id is not None:
                logger.log(logging.INFO if backfilled else logging.DEBUG,
                           "cron: item %s: enqueued job %s (%s) for %s%s", item.id, job_id,
                           item.task, _show(tick), " (backfilled)" if backfilled else "",
                           extra={"cron_item": item.id, "job_id": job_id, "task": item.task})
        return results

    def _skip_stale(self, cursor: _Cursor, now: datetime) -> None:
        """Moves the cursor past ticks too old to enqueue (see the module docstring)."""
        item = cursor.item
        oldest = min(floor_minute(now), now - item.fill)
        if self._started_minute is not None:
            oldest = min(oldest, max(self._started_minute, now - max(item.fill, self.catch_up)))
        if cursor.next_due >= oldest:
            return
        skipped_from = cursor.next_due
        cursor.next_due = first_tick_at_or_after(item.expression, item.tz, oldest)
        while_running = self._started_minute is not None and skipped_from >= self._started_minute
        logger.log(
            logging.WARNING if while_running else logging.INFO,
            "cron: item %s: skipping its ticks from %s to before %s: %s", item.id,
            _show(skipped_from), _show(cursor.next_due),
            "older than the catch-up window" if while_running else
            ("older than its fill window" if item.fill else "it has no fill option"),
            extra={"cron_item": item.id})

    async def _sleep_until_next_minute(self) -> None:
        target = floor_minute(self.clock.now()) + MINUTE
        while True:
            remaining = (target - self.clock.now()).total_seconds()
            if remaining <= 0:
                return
            if await self._wait(min(remaining + WAKE_DELAY, MAX_SLEEP)):
                return

    async def _wait(self, seconds: float) -> bool:
        """Sleeps on the clock; True if the stop event was set meanwhile."""
        stop = self._stop
        if stop is None:
            await self.clock.sleep(seconds)
            return False
        if stop.is_set():
            return True
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, stopper):
                task.cancel()
            await asyncio.gather(sleeper, stopper, return_exceptions=True)
        return stop.is_set()


def _show(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
