"""The dashboard's reads and actions: the statements of queries.py on a small pool of db.py's,
opened on first use (a mounted app gets no lifespan)."""

from __future__ import annotations

import asyncio

from .. import db, queries
from ..queries import column_names


class Store:
    def __init__(self, conninfo: str, schema: str) -> None:
        self.conninfo = conninfo
        self.schema = schema
        self.sql = queries.for_schema(schema)
        self._pool: db.AsyncConnectionPool | None = None
        self._lock = asyncio.Lock()

    async def rows(self, name: str, params: tuple = (), columns: tuple[str, ...] | None = None) -> list:
        """The rows of statement `name`: tuples, or dicts keyed by `columns`' names."""
        async with self._lock:
            if self._pool is None:
                kwargs = db.connection_kwargs(conninfo=self.conninfo, application_name="pgrun dashboard")
                self._pool = await db.open_pool(self.conninfo, max_size=4, min_size=0, name="pgrun-dashboard",
                                                kwargs=kwargs)
        async with self._pool.connection() as conn:
            cursor = await conn.execute(getattr(self.sql, name), params)
            found = await cursor.fetchall()
        if columns is None:
            return found
        names = column_names(columns)
        return [dict(zip(names, row, strict=True)) for row in found]

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
