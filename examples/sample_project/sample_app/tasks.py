"""The sample application's tasks."""

from __future__ import annotations

from pydantic import BaseModel

from pgrun import Helpers, SyncHelpers, task, task_ref

SENT: list[Welcome] = []
SYNCED: list[str] = []


class Welcome(BaseModel):
    to: str
    name: str


@task("emails.welcome")
def send_welcome(payload: Welcome, helpers: SyncHelpers) -> None:
    SENT.append(payload)
    helpers.add_job("crm.sync", {"email": payload.to})


@task("crm.sync")
async def sync_crm(payload: dict, helpers: Helpers) -> None:
    SYNCED.append(payload["email"])


WELCOME = task_ref(send_welcome)
