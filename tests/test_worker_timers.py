"""The fetcher's wake-up timers (no database: a Worker object is enough)."""

from __future__ import annotations

import time

from pgrun.fetcher import MAX_TIMERS
from pgrun.worker import Worker


def due_in(worker: Worker) -> list[float]:
    """The remembered wake-ups, as seconds from now, earliest first (rounded: clocks move)."""
    now = time.monotonic()
    return sorted(round(due - now, 1) for due in worker.fetcher._timers)


def test_at_the_limit_the_earliest_timers_are_kept():
    worker = Worker({"t": lambda payload, helpers: None})
    for n in range(MAX_TIMERS):
        worker.fetcher.wake_in(100 + n)
    assert due_in(worker) == [100 + n for n in range(MAX_TIMERS)]
    latest = 100 + MAX_TIMERS - 1

    worker.fetcher.wake_in(50)           # earlier than all: the latest one goes
    worker.fetcher.wake_in(500.5)        # in between: kept too, the next latest goes
    worker.fetcher.wake_in(100_000)      # later than every kept one: ignored

    kept = due_in(worker)
    assert len(kept) == MAX_TIMERS
    assert kept[:2] == [50, 100] and 500.5 in kept
    assert kept[-1] == latest - 2 and latest not in kept and 100_000 not in kept
    assert worker.fetcher._timers == sorted(worker.fetcher._timers)  # the first one is the next to wake for
