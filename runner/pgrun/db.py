"""Connections: where to connect and how to say it went wrong."""

from __future__ import annotations

import os

import psycopg

from .errors import ConnectionFailed


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


def connect(conninfo: str, **kwargs) -> psycopg.Connection:
    try:
        return psycopg.connect(conninfo, autocommit=True, **kwargs)
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else "no reason given"
        raise ConnectionFailed(f"cannot connect to {describe(conninfo)}: {reason}") from error
