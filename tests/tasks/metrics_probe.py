"""Tasks for the metrics tests: one that returns, one that raises, one that runs until a file
named in its payload exists (so a test can scrape while it runs, then let it end)."""

from __future__ import annotations

import asyncio
import os


async def quick(payload, helpers):
    return {"ok": True}


async def fails(payload, helpers):
    raise ValueError("metrics probe failure")


async def holds(payload, helpers):
    while not os.path.exists(payload["release"]):
        await asyncio.sleep(0.05)


tasks = {"quick": quick, "fails": fails, "holds": holds}
