"""docs/migrating-from-graphile-worker.md: a trigger written for Graphile Worker keeps working,
unchanged, on pgrun installed in the graphile_worker schema; a pgrun worker runs its jobs."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg

import pgrun
from pgrun.migrate import migrate

DOC = Path(__file__).resolve().parents[1] / "docs" / "migrating-from-graphile-worker.md"
WELCOMED: list[int] = []


async def send_welcome(payload, helpers):
    WELCOMED.append(payload["user_id"])


def _trigger_sql() -> str:
    text = DOC.read_text()
    section = text[text.index("## A trigger moved over unchanged"):]
    return re.search(r"```sql\n(.*?)```", section, re.S).group(1)


def test_a_graphile_worker_trigger_works_unchanged(empty_dsn):
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        migrate(conn, "graphile_worker")
        conn.execute(_trigger_sql())
        conn.execute("insert into users (email) values ('ada@example.com'), ('grace@example.com')")
        jobs = conn.execute("select task_identifier, key from graphile_worker.jobs order by id").fetchall()
        assert jobs == [("send_welcome", "welcome:1"), ("send_welcome", "welcome:2")]

    WELCOMED.clear()
    stats = pgrun.run_once({"send_welcome": send_welcome}, connection=empty_dsn, schema="graphile_worker")
    assert stats.completed == 2 and sorted(WELCOMED) == [1, 2]
