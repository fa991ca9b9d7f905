"""What the dashboard's browser tests share: a database of their own (one per module, made
and dropped here), a real `pgrun dashboard` process on a free port, and helpers to wait on a
page's live content."""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from collections.abc import Iterator

import psycopg

from pgrun.migrate import migrate
from support import WorkerProcess

ADMIN = (f"host={os.environ.get('PGHOST', '127.0.0.1')} port={os.environ.get('PGPORT', '5432')} "
         f"user={os.environ.get('PGUSER', 'postgres')}")
DOCS_IMAGES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "images")
# The screenshots go to docs/images only when asked (PGRUN_SCREENSHOTS=1, see docs/operations.md):
# a plain test run must not rewrite tracked files. Otherwise they are still taken, into a
# temporary folder, so that taking them is tested every run.
SCREENSHOTS = DOCS_IMAGES if os.environ.get("PGRUN_SCREENSHOTS") == "1" else os.path.join(
    tempfile.gettempdir(), f"pgrun-screenshots-{os.getpid()}")


@contextlib.contextmanager
def own_database(suffix: str) -> Iterator[str]:
    """A migrated database named for this process and `suffix`; dropped at the end."""
    name = f"pgrun_browser_{os.getpid()}_{suffix}"
    with psycopg.connect(f"{ADMIN} dbname=postgres", autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    dsn = f"{ADMIN} dbname={name}"
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            migrate(conn, "pgrun")
        yield dsn
    finally:
        with psycopg.connect(f"{ADMIN} dbname=postgres", autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def dashboard_process(dsn: str, *options: str) -> Iterator[str]:
    """`pgrun dashboard` with these options; yields its base URL once it listens."""
    port = free_port()
    server = WorkerProcess(["dashboard", "--port", str(port), *options], dsn)
    try:
        server.wait_for_line(f"http://127.0.0.1:{port}", timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def accept_dialogs(page, seen: list[str]) -> None:
    """Accept every confirm() the page asks, keeping what it said."""
    def accept(dialog) -> None:
        seen.append(dialog.message)
        dialog.accept()
    page.on("dialog", accept)
