"""Enqueueing in the application's own transaction from psycopg, SQLAlchemy and Django
connections (a rolled-back transaction leaves no job; a committed one leaves it), the Django
example's management commands as real processes, and the FastAPI example app."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import sqlalchemy
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import Session

import pgrun
from pgrun.integrations import sqlalchemy as pgrun_sqlalchemy

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


class Rollback(Exception):
    pass


def _tasks(conn) -> list[str]:
    return [row[0] for row in conn.execute("select task_identifier from pgrun.jobs order by id").fetchall()]


def test_psycopg_a_rolled_back_transaction_leaves_no_job(dsn, conn):
    with psycopg.connect(dsn) as app:          # not autocommit: the application's transactions
        with pytest.raises(Rollback), app.transaction():
            pgrun.add_job(app, "psycopg.rolled_back", {})
            raise Rollback
        with app.transaction():
            pgrun.add_job(app, "psycopg.committed", {})
            assert _tasks(conn) == []              # not visible before the commit
    assert _tasks(conn) == ["psycopg.committed"]


def test_psycopg_async_a_rolled_back_transaction_leaves_no_job(dsn, conn):
    async def main():
        async with await psycopg.AsyncConnection.connect(dsn) as app:
            with pytest.raises(Rollback):
                async with app.transaction():
                    await pgrun.add_job_async(app, "async.rolled_back", {})
                    raise Rollback
            async with app.transaction():
                await pgrun.add_job_async(app, "async.committed", {})
    asyncio.run(main())
    assert _tasks(conn) == ["async.committed"]


def _sqlalchemy_url(dsn: str, driver: str = "psycopg") -> sqlalchemy.URL:
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    return sqlalchemy.URL.create(f"postgresql+{driver}", username=params.get("user"), host=params.get("host"),
                                 port=int(params["port"]) if params.get("port") else None,
                                 database=params.get("dbname"))


def test_sqlalchemy_a_rolled_back_session_leaves_no_job_and_no_row(dsn, conn):
    conn.execute("create table orders (id serial primary key, item text not null)")
    engine = sqlalchemy.create_engine(_sqlalchemy_url(dsn))
    try:
        with Session(engine) as session:
            session.execute(sqlalchemy.text("insert into orders (item) values ('book')"))
            job = pgrun_sqlalchemy.add_job(session, "orders.confirm", {"item": "book"})
            assert job.task_identifier == "orders.confirm"
            session.rollback()
        with Session(engine) as session, session.begin():
            session.execute(sqlalchemy.text("insert into orders (item) values ('pen')"))
            pgrun_sqlalchemy.add_job(session, "orders.confirm", {"item": "pen"})
        with engine.connect() as connection:   # a Connection works too
            pgrun_sqlalchemy.add_job(connection, "orders.rolled_back", {})
            connection.rollback()
    finally:
        engine.dispose()
    assert conn.execute("select item from orders").fetchall() == [("pen",)]
    assert conn.execute("select task_identifier, payload from pgrun.jobs").fetchall() == [
        ("orders.confirm", {"item": "pen"})]


def test_sqlalchemy_async_a_rolled_back_session_leaves_no_job(dsn, conn):
    from sqlalchemy.ext.asyncio import AsyncSession

    async def main():
        engine = create_async_engine(_sqlalchemy_url(dsn))
        try:
            async with AsyncSession(engine) as session:
                await pgrun_sqlalchemy.add_job_async(session, "async.rolled_back", {})
                await session.rollback()
            async with AsyncSession(engine) as session, session.begin():
                await pgrun_sqlalchemy.add_job_async(session, "async.committed", {})
        finally:
            await engine.dispose()
    asyncio.run(main())
    assert _tasks(conn) == ["async.committed"]


def test_sqlalchemy_refuses_another_driver_with_a_clear_error():
    class Proxied:
        driver_connection = object()

    class FakeConnection:
        connection = Proxied()

    with pytest.raises(pgrun.PgrunError, match="use a postgresql\\+psycopg:// URL"):
        pgrun_sqlalchemy.add_job(FakeConnection(), "t", {})


def _manage(dsn: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": dsn, "PYTHONPATH": str(EXAMPLES / "django_app")}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=EXAMPLES / "django_app", env=env,
                          capture_output=True, text=True, timeout=120)


def test_django_a_rolled_back_atomic_block_leaves_no_job_and_the_worker_command_runs_jobs(dsn, conn):
    assert _manage(dsn, "migrate", "--verbosity", "0").returncode == 0

    failed = _manage(dsn, "place_order", "book", "--fail")
    assert failed.returncode == 1 and "payment for book refused" in failed.stderr
    placed = _manage(dsn, "place_order", "pen")
    assert placed.returncode == 0, placed.stderr
    assert conn.execute("select item, confirmed from shop_order").fetchall() == [("pen", False)]
    assert conn.execute("select task_identifier, payload ->> 'order_id' from pgrun.jobs").fetchall() == [
        ("orders.confirm", placed.stdout.split()[1])]   # the book's job went with its order

    worker = _manage(dsn, "pgrun_worker", "--tasks", "shop.tasks", "--once", "--log-format", "json")
    assert worker.returncode == 0, worker.stderr
    assert '"task": "orders.confirm"' in worker.stderr
    assert conn.execute("select item, confirmed from shop_order").fetchall() == [("pen", True)]
    assert _tasks(conn) == []   # completed, and completed jobs leave at once


def test_fastapi_example_enqueues_in_the_request_transaction(dsn, conn):
    from fastapi.testclient import TestClient

    sys.path.insert(0, str(EXAMPLES / "fastapi_app"))
    try:
        import fastapi_example  # (names no other example module uses: they share sys.modules)
        import welcome_tasks
    finally:
        sys.path.remove(str(EXAMPLES / "fastapi_app"))
    conn.execute("select pgrun.set_retention(completed => '1 hour', failed => null, cancelled => null)")
    with TestClient(fastapi_example.create_app(dsn)) as client:
        created = client.post("/signups", json={"email": "ada@example.com", "name": "Ada"},
                              headers={"X-Request-ID": "req-42"})
        assert created.status_code == 201 and created.headers["x-request-id"] == "req-42"
        duplicate = client.post("/signups", json={"email": "ada@example.com", "name": "Ada again"})
        assert duplicate.status_code == 409
        job_id = created.json()["job_id"]
        assert conn.execute("select id, meta ->> 'correlation_id' from pgrun.jobs").fetchall() == [
            (job_id, "req-42")]   # the duplicate's job was rolled back with its insert

        assert pgrun.run_once(welcome_tasks, connection=dsn).completed == 1
        assert client.get(f"/jobs/{job_id}").json() == {"state": "completed",
                                                        "result": {"sent_to": "ada@example.com"}}
