"""After a long outage the runner's pools reconnect within a few seconds of the database coming
back. psycopg_pool doubles its delay between attempts without end when it may retry for ever
(attempts at 0, 1, 3, 7, 15, 31 s ... of the outage); pgrun's pools keep it at most
db.RECONNECT_MAX_DELAY."""

from __future__ import annotations

import asyncio
import time

import pytest

from pgrun import db
from tcp_proxy import TcpProxy

OUTAGE = 17.0   # just past the uncapped attempt at 15 s: its next would come at 31 s


def test_the_runner_pool_reconnects_soon_after_a_long_outage(dsn):
    async def main():
        with TcpProxy() as proxy:
            pool = await db.open_pool(proxy.dsn(dsn), max_size=1, min_size=1)
            try:
                proxy.cut("refuse")
                with pytest.raises(db.PoolTimeout):   # the broken connection is found and dropped:
                    async with pool.connection(timeout=1):   # the reconnect attempts begin
                        pass
                await asyncio.sleep(OUTAGE)   # the outage itself: nothing to await
                proxy.restore()
                start = time.monotonic()
                async with pool.connection(timeout=30) as conn:
                    await conn.execute("select 1")
                return time.monotonic() - start
            finally:
                await pool.close()

    waited = asyncio.run(main())
    assert waited < db.RECONNECT_MAX_DELAY + 4, f"reconnected {waited:.1f} s after the database came back"


def test_the_handler_pool_reconnects_soon_after_a_long_outage(dsn):
    with TcpProxy() as proxy:
        pool = db.open_sync_pool(proxy.dsn(dsn), max_size=1)
        try:
            with pool.connection(timeout=10) as conn:
                conn.execute("select 1")
            proxy.cut("refuse")
            with pytest.raises(db.PoolTimeout):
                with pool.connection(timeout=1):
                    pass
            time.sleep(OUTAGE)   # the outage itself
            proxy.restore()
            start = time.monotonic()
            with pool.connection(timeout=30) as conn:
                conn.execute("select 1")
            waited = time.monotonic() - start
        finally:
            pool.close()
    assert waited < db.RECONNECT_MAX_DELAY + 4, f"reconnected {waited:.1f} s after the database came back"
