"""Typed tasks: each handler's payload parameter says what the payload is, and the worker
hands it a validated instance. mypy checks this file and enqueue.py in `make test`."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field
from typing_extensions import TypedDict  # pydantic validates typing.TypedDict from Python 3.12

import pgrun
from pgrun import SyncHelpers, task, task_ref


class Email(BaseModel):
    to: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    subject: str = "Hello"


class Resize(TypedDict):
    path: str
    width: int


@dataclass
class Report:
    report_id: int
    pages: int = 1


SENT: list[Email] = []
RESIZED: list[Resize] = []
BUILT: list[Report] = []


@task("emails.send")
async def send_email(payload: Email, helpers: pgrun.Helpers) -> None:
    SENT.append(payload)                       # an Email, validated


@task("images.resize")
def resize_image(payload: Resize, helpers: SyncHelpers) -> None:
    RESIZED.append(payload)                    # a dict with path (str) and width (int)


@task("reports.build")
def build_report(payload: Report, helpers: SyncHelpers) -> dict[str, int]:
    BUILT.append(payload)                      # a Report
    return {"pages": payload.pages}


SEND_EMAIL = task_ref(send_email)      # TaskRef[Email]
RESIZE_IMAGE = task_ref(resize_image)  # TaskRef[Resize]
BUILD_REPORT = task_ref(build_report)  # TaskRef[Report]
