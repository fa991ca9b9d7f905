"""The tasks of `make demo` (scripts/demo.sh): run them with

    cd examples && pgrun --tasks demo_tasks

Both ways to declare a task are here: the @task decorator, and the `tasks`
dict at the bottom. Plain functions run in a thread; async ones on the loop.
"""

from __future__ import annotations

import asyncio
import time

from pgrun import task


@task
def greet(payload, helpers):
    """A plain task: it may block (it runs in a thread of its own)."""
    helpers.logger.info("hello, %s!", payload.get("name", "world"))


@task("emails.send")
async def send_email(payload, helpers):
    """An async task: it must not block, but it may await."""
    await asyncio.sleep(0.2)  # talking to a mail server...
    helpers.logger.info("sent %r to %s", payload["subject"], payload["to"])


@task("reports.build")
def build_report(payload, helpers):
    """Adds a follow-up job when done. A plain task's connection comes from a small blocking
    pool the worker opens for plain tasks, not from the async pool the worker itself uses."""
    with helpers.connection() as conn:
        jobs_waiting = conn.execute("select count(*) from pgrun.jobs").fetchone()[0]
    time.sleep(0.5)  # crunching numbers...
    helpers.logger.info("report %s built (%d jobs in the queue)", payload["report"], jobs_waiting)
    helpers.add_job("emails.send", {"to": "boss@example.com", "subject": f"report {payload['report']}"})


async def flaky_fetch(payload, helpers):
    """Fails on its first attempt: watch the retry come about 2.7 s (e^1) later."""
    if helpers.job.attempts == 1:
        raise ConnectionError(f"{payload['url']} did not answer")
    helpers.logger.info("fetched %s on attempt %d/%d", payload["url"], helpers.job.attempts,
                        helpers.job.max_attempts)


tasks = {"flaky.fetch": flaky_fetch}
