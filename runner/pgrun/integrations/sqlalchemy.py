"""Enqueue in a SQLAlchemy Session's (or Connection's) transaction.

    from pgrun.integrations.sqlalchemy import add_job

    with Session(engine) as session, session.begin():
        session.add(User(email="ada@example.com"))
        add_job(session, "emails.welcome", {"to": "ada@example.com"})   # commits with the user

The engine must use psycopg 3 (`postgresql+psycopg://...`): the job is added on the DBAPI
connection the session's transaction holds. `add_job_async` does the same for an AsyncSession
or AsyncConnection (`postgresql+psycopg://` with create_async_engine).
"""

from __future__ import annotations

from typing import Any

from .. import db, utils
from ..errors import ConfigurationError
from ..job import Job


def _driver_connection(raw: Any, kinds: tuple[type, ...]) -> Any:
    driver = getattr(raw, "driver_connection", raw)
    if not isinstance(driver, kinds):
        raise ConfigurationError(f"pgrun enqueues through psycopg 3, but this SQLAlchemy engine's driver "
                                 f"connection is a {type(driver).__module__}.{type(driver).__name__}: "
                                 "use a postgresql+psycopg:// URL")
    return driver


def add_job(session_or_connection: Any, identifier: Any, payload: Any = None, **options: Any) -> Job:
    """pgrun.add_job (same options) inside the transaction of a Session or Connection."""
    connection = session_or_connection
    if hasattr(session_or_connection, "get_bind"):   # a Session: its connection, beginning if need be
        connection = session_or_connection.connection()
    raw = connection.connection   # the pooled DBAPI connection of this transaction
    return utils.add_job(_driver_connection(raw, (db.Connection,)), identifier, payload, **options)


async def add_job_async(session_or_connection: Any, identifier: Any, payload: Any = None,
                        **options: Any) -> Job:
    """pgrun.add_job_async inside the transaction of an AsyncSession or AsyncConnection."""
    connection = session_or_connection
    if hasattr(session_or_connection, "get_bind"):   # an AsyncSession
        connection = await session_or_connection.connection()
    raw = await connection.get_raw_connection()
    return await utils.add_job_async(_driver_connection(raw, (db.AsyncConnection,)), identifier, payload,
                                     **options)
