"""The test proxy itself (tcp_proxy.py): a psycopg connection through it, cut and restored."""

from __future__ import annotations

import hashlib
import threading
import time

import psycopg
import pytest

from support import wait_until
from tcp_proxy import BLACKHOLE, REFUSE, TcpProxy


@pytest.fixture
def proxy():
    with TcpProxy(max_lifetime=60) as started:
        yield started


def test_queries_go_through_the_proxy(proxy, dsn):
    with psycopg.connect(proxy.dsn(dsn), autocommit=True) as conn:
        assert conn.execute("select 41 + 1").fetchone() == (42,)
        assert conn.info.port == proxy.port
        # large results cross it intact
        assert conn.execute("select length(repeat('x', 5000000))").fetchone() == (5_000_000,)
        sent = ",".join(map(str, range(200_000)))
        assert conn.execute("select md5(%s)", (sent,)).fetchone() == (hashlib.md5(sent.encode()).hexdigest(),)
        assert proxy.connections == 1


def test_refuse_fails_queries_and_new_connections_until_restored(proxy, dsn):
    through = proxy.dsn(dsn) + " connect_timeout=2"
    conn = psycopg.connect(through, autocommit=True)
    try:
        conn.execute("select 1")
        proxy.cut(REFUSE)
        assert proxy.connections == 0
        with pytest.raises(psycopg.OperationalError):
            conn.execute("select 1")
    finally:
        conn.close()
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError, match="refused"):
        psycopg.connect(through)
    assert time.monotonic() - started < 1.5  # refused at once, not timed out

    proxy.restore()
    with psycopg.connect(through, autocommit=True) as again:
        assert again.execute("select 2").fetchone() == (2,)
        assert again.info.port == proxy.port  # the same port as before the cut


def test_blackhole_holds_connections_and_restore_resumes_them(proxy, dsn):
    through = proxy.dsn(dsn)
    conn = psycopg.connect(through, autocommit=True)
    try:
        conn.execute("select 1")
        proxy.cut(BLACKHOLE)
        answer: list = []
        query = threading.Thread(target=lambda: answer.append(conn.execute("select 3").fetchone()),
                                 daemon=True)
        query.start()
        query.join(0.5)
        assert query.is_alive() and not answer  # held: no answer, no error
        # a new connection is accepted at the TCP level but nothing answers it
        with pytest.raises(psycopg.OperationalError, match="timeout"):
            psycopg.connect(through + " connect_timeout=1")
        assert proxy.connections >= 1

        proxy.restore()
        query.join(5)
        assert answer == [(3,)]  # the held query was delivered and answered after the restore
        assert conn.execute("select 4").fetchone() == (4,)
    finally:
        conn.close()
    with psycopg.connect(through, autocommit=True) as again:
        assert again.execute("select 5").fetchone() == (5,)


def test_the_proxy_stops_by_itself_and_only_on_loopback(dsn):
    with pytest.raises(ValueError, match="loopback"):
        TcpProxy("10.1.2.3", 5432)
    with pytest.raises(ValueError, match="loopback"):
        TcpProxy(listen_host="0.0.0.0")
    short = TcpProxy(max_lifetime=0.5).start()
    conn = psycopg.connect(short.dsn(dsn), autocommit=True)
    try:
        conn.execute("select 1")
        wait_until(lambda: short.closed, timeout=5, message="the proxy to close itself")
        with pytest.raises(psycopg.OperationalError):
            conn.execute("select 1")
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(short.dsn(dsn) + " connect_timeout=1")
        with pytest.raises(RuntimeError, match="closed"):
            short.restore()
    finally:
        conn.close()
        short.close()
