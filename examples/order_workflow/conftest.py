"""The example's own `dsn` fixture, built as tests/conftest.py builds it: a fresh database on
the local server (PGHOST/PGPORT/PGUSER, default 127.0.0.1:5432 postgres) per test, which
run_orders.py migrates itself."""

from __future__ import annotations

import os

import psycopg
import pytest
from pytest_postgresql import factories

# Its own template name, so that it can run in the same session as tests/.
orders_server = factories.postgresql_noproc(
    host=os.environ.get("PGHOST", "127.0.0.1"), port=int(os.environ.get("PGPORT", "5432")),
    user=os.environ.get("PGUSER", "postgres"), dbname=f"pgrun_orders_{os.getpid()}",
)
orders_db = factories.postgresql("orders_server")


@pytest.fixture
def dsn(orders_db: psycopg.Connection) -> str:
    info = orders_db.info
    return f"host={info.host} port={info.port} user={info.user} dbname={info.dbname}"
