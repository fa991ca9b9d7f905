"""This file must FAIL type-checking (tests/test_typed.py asserts that mypy refuses each
line marked `# refused`): a TaskRef only takes a payload of its own type."""

from __future__ import annotations

import pgrun

from .tasks import RESIZE_IMAGE, SEND_EMAIL, Email, Report, Resize


def wrong(utils: pgrun.WorkerUtils) -> None:
    utils.add_job(SEND_EMAIL, Report(report_id=1))                 # refused
    utils.add_job(RESIZE_IMAGE, Resize(path="cat.png", width="wide"))  # refused
    utils.add_job(RESIZE_IMAGE, Email(to="ada@example.com"))         # refused
    pgrun.add_job(utils.connection, SEND_EMAIL, {"to": 1})         # refused
