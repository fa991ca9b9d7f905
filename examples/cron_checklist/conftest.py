"""The example's own `dsn` fixture, built as tests/conftest.py builds it: a
pgrun-migrated template database on the local server (PGHOST/PGPORT/PGUSER,
default 127.0.0.1:5432 postgres), cloned into a fresh database per test, with
the app's tables added."""

from __future__ import annotations

import os

import app
import psycopg
import pytest
from pytest_postgresql import factories

from pgrun.migrate import migrate


def _install(host, port, user, dbname, password, **_):
    with psycopg.connect(host=host, port=port, user=user, dbname=dbname, password=password,
                         autocommit=True) as conn:
        migrate(conn, "pgrun")
        app.install(conn)


# Its own template name, so that it can run in the same session as tests/.
checklist_server = factories.postgresql_noproc(
    host=os.environ.get("PGHOST", "127.0.0.1"), port=int(os.environ.get("PGPORT", "5432")),
    user=os.environ.get("PGUSER", "postgres"), dbname=f"pgrun_checklist_{os.getpid()}",
    load=[_install],
)
checklist_db = factories.postgresql("checklist_server")


@pytest.fixture
def dsn(checklist_db: psycopg.Connection) -> str:
    info = checklist_db.info
    return f"host={info.host} port={info.port} user={info.user} dbname={info.dbname}"


@pytest.fixture
def conn(dsn: str):
    with psycopg.connect(dsn, autocommit=True) as connection:
        yield connection
