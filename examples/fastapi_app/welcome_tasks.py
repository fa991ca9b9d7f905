"""The FastAPI example's tasks."""

from __future__ import annotations

from pydantic import BaseModel

from pgrun import Helpers, task, task_ref


class Welcome(BaseModel):
    to: str
    name: str


@task("emails.welcome")
async def send_welcome(payload: Welcome, helpers: Helpers) -> dict:
    helpers.logger.info("welcoming %s", payload.to)
    return {"sent_to": payload.to}


SEND_WELCOME = task_ref(send_welcome)
