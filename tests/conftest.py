"""Shared fixtures: a pgrun-migrated template database on the local server,
cloned into a fresh database for every test (pytest-postgresql, no process)."""

from __future__ import annotations

import os

import psycopg
import pytest
from pytest_postgresql import factories

from pgrun.migrate import migrate

PG_HOST = os.environ.get("PGHOST", "127.0.0.1")
PG_PORT = int(os.environ.get("PGPORT", "5432"))
PG_USER = os.environ.get("PGUSER", "postgres")


def _install_pgrun(host, port, user, dbname, password, **_):
    with psycopg.connect(host=host, port=port, user=user, dbname=dbname, password=password,
                         autocommit=True) as conn:
        migrate(conn, "pgrun")


# The pid keeps two test runs on one server (two developers, CI) apart.
postgresql_server = factories.postgresql_noproc(
    host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=f"pgrun_test_{os.getpid()}",
    load=[_install_pgrun],
)
postgresql = factories.postgresql("postgresql_server")


@pytest.fixture
def dsn(postgresql: psycopg.Connection) -> str:
    """Connection string of this test's own migrated database."""
    info = postgresql.info
    return f"host={info.host} port={info.port} user={info.user} dbname={info.dbname}"


@pytest.fixture
def conn(dsn: str):
    """An autocommit connection to this test's database."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        yield connection


@pytest.fixture
def recording_workers(dsn: str, conn):
    """Starts `pgrun` processes whose tasks record in pgrun_test_results; kills them at the end."""
    from support import RESULTS_TABLE, Workers

    conn.execute(RESULTS_TABLE)
    started = Workers(dsn)
    yield started
    started.close()


@pytest.fixture
def empty_dsn(postgresql_server) -> str:
    """A database with nothing installed, created and dropped by this fixture."""
    name = f"pgrun_empty_{os.getpid()}"
    admin = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'drop database if exists "{name}"')
        c.execute(f'create database "{name}"')
    yield f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={name}"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'drop database if exists "{name}" with (force)')


CHROMIUM = os.environ.get("PGRUN_CHROMIUM", "/usr/bin/chromium")  # Debian's, as scripts/ensure_chromium.sh


@pytest.fixture(scope="module")
def browser():
    """One headless Debian chromium for a module's browser tests, driven by Playwright (never a
    browser of Playwright's own: `make install` installs chromium with apt-get). Module-scoped:
    Playwright's sync API holds an event loop in this thread while it runs, and the asyncio
    tests after it need the thread free again."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"NO CHROMIUM AT {CHROMIUM}: the dashboard's browser tests did NOT run "
                    "(make install installs it: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        pytest.skip("NO PLAYWRIGHT: the dashboard's browser tests did NOT run (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()
