"""A FastAPI app that enqueues in its request's transaction.

POST /signups writes the user and enqueues the welcome email in one transaction: a duplicate
email (409) leaves neither. Every job a request adds carries its X-Request-ID as correlation id
(pgrun.correlate), so the worker's JSON log lines of that job can be found by it.

    DATABASE_URL=postgresql://... uvicorn fastapi_example:app
    pgrun --tasks welcome_tasks --connection "$DATABASE_URL" --log-format json
"""

from __future__ import annotations

import os
import uuid
from contextlib import asynccontextmanager

import psycopg
from fastapi import FastAPI, HTTPException, Request
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel
from welcome_tasks import SEND_WELCOME, Welcome

import pgrun

SCHEMA = "create table if not exists app_users (email text primary key, name text not null)"


class Signup(BaseModel):
    email: str
    name: str


def create_app(database_url: str | None = None) -> FastAPI:
    conninfo = database_url or os.environ.get("DATABASE_URL", "")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with AsyncConnectionPool(conninfo, min_size=1, max_size=4, open=False) as pool:
            async with pool.connection() as conn:
                await conn.execute(SCHEMA)
            app.state.pool = pool
            yield

    app = FastAPI(lifespan=lifespan)

    @app.middleware("http")
    async def correlation(request: Request, call_next):
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        with pgrun.correlate(request_id):          # jobs added in this request carry it
            response = await call_next(request)
        response.headers["x-request-id"] = request_id
        return response

    @app.post("/signups", status_code=201)
    async def sign_up(signup: Signup, request: Request) -> dict:
        async with request.app.state.pool.connection() as conn:
            try:
                async with conn.transaction():     # the user and the job commit together
                    welcome = Welcome(to=signup.email, name=signup.name)
                    job = await pgrun.add_job_async(conn, SEND_WELCOME, welcome)
                    await conn.execute("insert into app_users (email, name) values (%s, %s)",
                                       (signup.email, signup.name))
            except psycopg.errors.UniqueViolation:
                raise HTTPException(409, f"{signup.email} has signed up already") from None
        return {"job_id": job.id}

    @app.get("/jobs/{job_id}")
    async def job_state(job_id: int, request: Request) -> dict:
        async with request.app.state.pool.connection() as conn:
            result = await pgrun.get_result_async(conn, job_id)
        if result is None:
            raise HTTPException(404, f"no job {job_id} (or it is gone: completed jobs leave unless kept)")
        return {"state": result.state, "result": result.result}

    return app


app = create_app()
