"""Every SQL example in docs/sql.md runs, in order, against a fresh database.

A block with `-- ERROR:  message` lines must fail with those messages; every
other block must succeed. Outputs shown in the doc are for the reader and are
not compared. Role names get a per-run suffix (roles belong to the whole server)
and are dropped afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "sql.md"
ROLES = ("web_anon", "app_writer")
SQL_BLOCK = re.compile(r"```sql\n(.*?)```", re.S)


def sql_blocks() -> list[str]:
    return SQL_BLOCK.findall(DOC.read_text())


@pytest.mark.skipif(shutil.which("psql") is None, reason="needs psql")
def test_every_sql_example_in_the_reference_runs(dsn):
    suffix = f"_doc{os.getpid()}"
    roles = {role: role + suffix for role in ROLES}
    try:
        for number, block in enumerate(sql_blocks(), start=1):
            for role, unique in roles.items():
                block = re.sub(rf"\b{role}\b", unique, block)
            expected_errors = re.findall(r"^-- ERROR:  (.*)$", block, re.M)
            args = ["psql", "-X", "-q", "-d", dsn]
            if not expected_errors:
                args += ["-v", "ON_ERROR_STOP=1"]
            run = subprocess.run(args, input=block, capture_output=True, text=True, timeout=60)
            where = f"docs/sql.md, SQL block {number}:\n{block}\n{run.stderr}"
            if expected_errors:
                for message in expected_errors:
                    assert f"ERROR:  {message}" in run.stderr, where
            else:
                assert run.returncode == 0 and "ERROR" not in run.stderr, where
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for unique in roles.values():
                if conn.execute("select 1 from pg_roles where rolname = %s", (unique,)).fetchone():
                    conn.execute(f'drop owned by "{unique}"')
                    conn.execute(f'drop role "{unique}"')
