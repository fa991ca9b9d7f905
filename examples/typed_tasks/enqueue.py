"""Enqueueing typed tasks: the type checker knows each TaskRef's payload type."""

from __future__ import annotations

import pgrun
from pgrun import Job

from .tasks import BUILD_REPORT, RESIZE_IMAGE, SEND_EMAIL, Email, Report, Resize


def enqueue_all(utils: pgrun.WorkerUtils) -> list[Job]:
    return [
        utils.add_job(SEND_EMAIL, Email(to="ada@example.com")),
        utils.add_job(RESIZE_IMAGE, Resize(path="cat.png", width=200)),  # a TypedDict: build it by name
        utils.add_job(BUILD_REPORT, Report(report_id=7, pages=3), queue_name="reports"),
    ]


def enqueue_untyped(utils: pgrun.WorkerUtils) -> Job:
    return utils.add_job("legacy.untyped", {"anything": ["goes"]})   # a plain name takes any payload


async def enqueue_in_handler(helpers: pgrun.Helpers) -> Job:
    return await helpers.add_job(SEND_EMAIL, Email(to="grace@example.com"), validate=True)
