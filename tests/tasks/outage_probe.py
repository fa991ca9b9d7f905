"""Tasks for the outage test: each attempt writes when it starts and ends to a
local file (the database is unreachable during the outage), as JSON lines."""

from __future__ import annotations

import json
import os
import time

TIMELINE = os.environ.get("OUTAGE_TIMELINE", "timeline.jsonl")


def _note(event: str, helpers) -> None:
    job = helpers.job
    line = json.dumps({"event": event, "job": job.id, "attempt": job.attempts, "queue": job.queue_name,
                       "worker": helpers.worker_id, "pid": os.getpid(), "at": time.time()})
    with open(TIMELINE, "a") as timeline:
        timeline.write(line + "\n")


def long_step(payload, helpers):
    """Runs for payload["seconds"], the database or not."""
    _note("start", helpers)
    time.sleep(payload["seconds"])
    _note("end", helpers)


tasks = {"long_step": long_step}
