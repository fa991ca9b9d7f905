"""The crontab as one more loop of a worker (`pgrun --crontab FILE`): its scheduler, made
from the file when the worker starts, and kept running across lost connections."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from ..backoff import Backoff
from ..errors import ConfigurationError, PgrunError
from ..fmt import reason
from ..lease import RETRYABLE
from .parse import parse_crontab_file
from .scheduler import CronScheduler

log = logging.getLogger("pgrun.worker")


def scheduler_for(crontab: str | os.PathLike | None, pool, schema: str) -> CronScheduler | None:
    """The crontab's scheduler (None without a crontab); a missing or bad file is the
    worker's configuration error, raised before it starts."""
    if crontab is None:
        return None
    path = Path(crontab)
    if not path.is_file():
        raise ConfigurationError(f"crontab file {path} not found")
    try:
        items = parse_crontab_file(path)
    except PgrunError:
        raise
    except (ValueError, OSError) as error:
        raise ConfigurationError(f"crontab {path}: {error}") from None
    return CronScheduler(pool, schema, items)


async def run_scheduler(scheduler: CronScheduler, stop_requested: asyncio.Event) -> None:
    """Runs the scheduler until the worker stops, starting it again after a lost connection."""
    backoff = Backoff(1.0, 30.0)
    while not stop_requested.is_set():
        try:
            await scheduler.run(stop_requested)
            return
        except RETRYABLE as error:
            delay = backoff.next()
            log.warning("cron scheduler lost its connection (%s); restarting in %.1f s", reason(error), delay)
            await asyncio.sleep(delay)
