"""One cron instance for the multi-process test: runs a CronScheduler on the
real clock until a deadline, printing one JSON line per tick it dealt with.

    python tests/cron_instance.py DSN CRONTAB_FILE DEADLINE_UNIX_SECONDS
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from psycopg_pool import AsyncConnectionPool

from pgrun.cron import CronScheduler, parse_crontab_file


class ReportingScheduler(CronScheduler):
    async def step(self):
        done = await super().step()
        for d in done:
            print(json.dumps({"item": d.item_id, "tick": d.tick.isoformat(), "backfilled": d.backfilled,
                              "job_id": d.job_id}), flush=True)
        return done


async def main(dsn: str, crontab: str, deadline: float) -> None:
    pool = AsyncConnectionPool(dsn, open=False, min_size=1, max_size=2)
    await pool.open(wait=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(max(0.0, deadline - time.time()), stop.set)
    try:
        await ReportingScheduler(pool, "pgrun", parse_crontab_file(crontab)).run(stop)
    finally:
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
