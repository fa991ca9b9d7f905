"""The cron bookkeeping in the database: the only cron module that speaks SQL.

Each call is one statement of the SQL API in sql/functions/0600_cron.sql, in
a transaction of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql
from psycopg.types.json import Json

from ..errors import ConfigurationError
from ..sql_files import check_schema_name
from .parse import CronItem

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool


# What a failed database call can raise: the scheduler retries after these.
DATABASE_ERRORS = (psycopg.Error, OSError)


class TickRefused(Exception):
    """The database refused one tick of one item (bad data, a clock far ahead)."""


@dataclass(frozen=True)
class KnownItem:
    item_id: str
    known_since: datetime
    last_execution: datetime | None
    first_seen: bool


class CronStore:
    def __init__(self, pool: AsyncConnectionPool, schema: str) -> None:
        self.pool = pool
        self.schema = sql.Identifier(check_schema_name(schema))

    async def register(self, item_ids: list[str], now: datetime) -> dict[str, KnownItem]:
        """Makes the items known (those new as of `now`) and returns their bookkeeping."""
        query = sql.SQL(
            "select item_id, known_since, last_execution, first_seen from {}.cron_register(%s, %s)"
        ).format(self.schema)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(query, (item_ids, now))
            rows = await cursor.fetchall()
        return {row[0]: KnownItem(*row) for row in rows}

    async def enqueue_tick(self, item: CronItem, tick: datetime, backfilled: bool) -> int | None:
        """The id of the job enqueued for this tick, or None if another instance enqueued it."""
        query = sql.SQL(
            "select id from {}.cron_enqueue_tick("
            "item_id => %s, ts => %s, backfilled => %s, identifier => %s, payload => %s, "
            "queue_name => %s, max_attempts => %s, job_key => %s, job_key_mode => %s, "
            "priority => %s)"
        ).format(self.schema)
        params = (item.id, tick, backfilled, item.task, Json(dict(item.payload)), item.queue,
                  item.max_attempts, item.job_key, item.job_key_mode, item.priority)
        try:
            async with self.pool.connection() as conn:
                cursor = await conn.execute(query, params)
                row = await cursor.fetchone()
        except (psycopg.DataError, psycopg.IntegrityError, psycopg.errors.RaiseException) as error:
            raise TickRefused(str(error).strip()) from error
        return row[0] if row else None


def last_executions(conn: psycopg.Connection, schema: str,
                    item_ids: list[str]) -> dict[str, datetime | None]:
    """last_execution of each item the database knows (read only: registers nothing)."""
    query = sql.SQL(
        "select item_id, last_execution from {}._private_known_crontabs where item_id = any(%s)"
    ).format(sql.Identifier(check_schema_name(schema)))
    try:
        rows = conn.execute(query, (item_ids,)).fetchall()
    except psycopg.errors.UndefinedTable:
        raise ConfigurationError(
            f"schema {schema} has no cron bookkeeping; run `pgrun migrate --schema {schema}` first"
        ) from None
    return dict(rows)
