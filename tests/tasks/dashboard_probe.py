"""Tasks for the dashboard's browser tests. Files in $DASHBOARD_PROBE_DIR steer them, so the
payloads stay the same from run to run (the screenshots show them): `reports.build` fails
until the file `gate` exists and then runs until `release` exists; `exports.run` runs until
it is cancelled (or 300 s)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path


def _probe(name: str) -> Path:
    return Path(os.environ["DASHBOARD_PROBE_DIR"]) / name


async def send(payload, helpers):
    return {"delivered": True}


async def build_report(payload, helpers):
    if not _probe("gate").exists():
        raise RuntimeError(f"report service answered 503 for {payload['report']}")
    while not _probe("release").exists():
        await asyncio.sleep(0.05)
    return {"rows": 42}


async def run_export(payload, helpers):
    await asyncio.sleep(300)


tasks = {"emails.send": send, "reports.build": build_report, "exports.run": run_export}
