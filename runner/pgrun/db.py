"""Connections: where to connect and how to say it went wrong."""

from __future__ import annotations

import os

import psycopg
import psycopg.sql
from psycopg.types.json import Json, Jsonb
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from .errors import ConnectionFailed

# The driver's names the rest of pgrun uses, so that this module is the one importing psycopg.
Connection = psycopg.Connection
AsyncConnection = psycopg.AsyncConnection
DatabaseError = psycopg.Error
__all__ = ["AsyncConnection", "AsyncConnectionPool", "Connection", "ConnectionPool", "DatabaseError",
           "Json", "Jsonb"]

# What a lost or refused connection raises; the runner retries these.
CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)


# The pools retry a lost connection with a delay that doubles each time; retrying for ever,
# the delay has no end, and after a two-minute outage the next attempt could come two minutes
# after the database is back. The pools below keep it at most this.
RECONNECT_MAX_DELAY = 4.0


def _capped(attempt) -> None:
    """Keep the next delay of a reconnect attempt (psycopg_pool's AttemptWithBackoff, which
    doubles it after each failure) at most RECONNECT_MAX_DELAY."""
    if attempt is not None and attempt.delay * attempt.DELAY_BACKOFF > RECONNECT_MAX_DELAY:
        attempt.delay = RECONNECT_MAX_DELAY / attempt.DELAY_BACKOFF


class _AsyncPool(AsyncConnectionPool):
    async def _add_connection(self, attempt, growing: bool = False) -> None:
        _capped(attempt)
        await super()._add_connection(attempt, growing)


class _SyncPool(ConnectionPool):
    def _add_connection(self, attempt, growing: bool = False) -> None:
        _capped(attempt)
        super()._add_connection(attempt, growing)


def bigint_array(values) -> str:
    """Integers as the text of a bigint[] parameter (the statement casts it). The driver's list
    adapter checks each element's text for quoting: on a batch of hundreds that costs more than
    joining them here."""
    if None in values:
        return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"
    return "{" + ",".join(map(str, values)) + "}"


def resolve_conninfo(connection: str | None = None) -> str:
    """--connection, else DATABASE_URL, else '' (libpq then reads the PG* variables)."""
    return connection or os.environ.get("DATABASE_URL") or ""


def describe(conninfo: str) -> str:
    """The target without its password, for messages."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "the configured database"
    host = params.get("host") or os.environ.get("PGHOST") or "localhost"
    port = params.get("port") or os.environ.get("PGPORT") or "5432"
    dbname = params.get("dbname") or os.environ.get("PGDATABASE") or "(default database)"
    return f"{dbname} on {host}:{port}"


def _failed(conninfo: str, error: Exception) -> ConnectionFailed:
    text = str(error).strip()
    reason = text.splitlines()[-1] if text else "no reason given"
    return ConnectionFailed(f"cannot connect to {describe(conninfo)}: {reason}")


def connect(conninfo: str, **kwargs) -> psycopg.Connection:
    try:
        return psycopg.connect(conninfo, autocommit=True, **kwargs)
    except psycopg.OperationalError as error:
        raise _failed(conninfo, error) from error


async def connect_async(conninfo: str, **kwargs) -> psycopg.AsyncConnection:
    """An autocommit connection (`kwargs` may repeat that: `**connection_kwargs(...)`)."""
    try:
        return await psycopg.AsyncConnection.connect(conninfo, **{"autocommit": True, **kwargs})
    except psycopg.OperationalError as error:
        raise _failed(conninfo, error) from error


# A dead peer is noticed within ~25 s by keepalives, and unacknowledged writes give up
# after 15 s (tcp_user_timeout), instead of the kernel's many minutes.
TCP_SETTINGS = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
                "tcp_user_timeout": 15_000, "connect_timeout": 5}


def session_options(conninfo: str, statement_timeout: str, lock_timeout: str) -> str:
    """libpq `options` for a runner connection: bounds on statements, lock waits and idle
    transactions, before the user's own options (which win where they set the same)."""
    ours = (f"-c statement_timeout={statement_timeout} -c lock_timeout={lock_timeout} "
            "-c idle_in_transaction_session_timeout=60s")
    try:
        theirs = psycopg.conninfo.conninfo_to_dict(conninfo).get("options") or ""
    except psycopg.ProgrammingError:
        theirs = ""
    return f"{ours} {theirs}".strip()


def connection_kwargs(prepared_statements: bool = True, *, conninfo: str = "",
                      statement_timeout: str = "30s", lock_timeout: str = "5s",
                      application_name: str = "pgrun") -> dict:
    """Settings of every runner connection: autocommit, timeouts, TCP keepalives. Without
    prepared statements the runner works behind poolers in transaction mode (PgBouncer)."""
    kwargs = {"autocommit": True, "prepare_threshold": 5 if prepared_statements else None,
              "application_name": application_name, **TCP_SETTINGS}
    # Poolers in transaction mode (the reason to turn prepared statements off) refuse
    # startup options; there the pooler's own timeouts have to do.
    if prepared_statements:
        kwargs["options"] = session_options(conninfo, statement_timeout, lock_timeout)
    return kwargs


async def open_pool(conninfo: str, *, max_size: int, prepared_statements: bool = True,
                    name: str = "pgrun", timeout: float = 10.0, min_size: int | None = None,
                    kwargs: dict | None = None, check: bool = True) -> AsyncConnectionPool:
    """An open async pool. `check` tests each connection with a query when it is taken out;
    without it a broken connection fails on first use (callers that retry do not need it)."""
    pool = _AsyncPool(
        conninfo, min_size=min(2, max_size) if min_size is None else min_size, max_size=max_size,
        open=False, name=name,
        kwargs=kwargs if kwargs is not None else connection_kwargs(prepared_statements, conninfo=conninfo),
        check=AsyncConnectionPool.check_connection if check else None,
        reconnect_timeout=float("inf"),
    )
    try:
        await pool.open(wait=True, timeout=timeout)
    except PoolTimeout as error:
        await pool.close()
        # The pool hides the reason; one direct attempt with the same settings tells it.
        try:
            conn = await connect_async(conninfo, **(kwargs or {}))
        except ConnectionFailed as failed:
            raise failed from error
        await conn.close()
        raise ConnectionFailed(f"cannot connect to {describe(conninfo)}: pool timed out") from error
    return pool


def open_sync_pool(conninfo: str, *, max_size: int, prepared_statements: bool = True,
                   name: str = "pgrun-sync") -> ConnectionPool:
    """A blocking pool that connects on demand (plain handlers' own queries): plain
    autocommit connections, without the runner's timeouts (handlers set their own)."""
    return _SyncPool(
        conninfo, min_size=0, max_size=max_size, open=True, name=name,
        kwargs={"autocommit": True, "prepare_threshold": 5 if prepared_statements else None},
        check=ConnectionPool.check_connection,
    )


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a database error, else None."""
    return getattr(error, "sqlstate", None)


def with_dbname(conninfo: str, dbname: str) -> str:
    """The same connection string, to another database."""
    return psycopg.conninfo.make_conninfo(conninfo, dbname=dbname)


def make_conninfo(**params: str) -> str:
    """A connection string from libpq keywords."""
    return psycopg.conninfo.make_conninfo(**params)


def create_database(conninfo: str, name: str, template: str | None = None) -> None:
    """CREATE DATABASE `name` (from `template`) on the server `conninfo` reaches."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        statement = psycopg.sql.SQL("create database {}").format(psycopg.sql.Identifier(name))
        if template is not None:
            statement += psycopg.sql.SQL(" template {}").format(psycopg.sql.Identifier(template))
        conn.execute(statement)


def drop_database(conninfo: str, name: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("drop database if exists {} with (force)").format(
            psycopg.sql.Identifier(name)))


def in_transaction(conn) -> bool:
    """Whether `conn` has a transaction open (what it adds is not visible to others yet)."""
    return conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
