"""The wheel carries the SQL, so `pip install` + `pgrun migrate` works without a checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]


def test_installed_wheel_migrates_from_its_own_sql(tmp_path, empty_dsn):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next(tmp_path.glob("pgrun-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "pgrun/sql/migrations/0001_initial.sql" in names
    assert "pgrun/sql/functions/0110_add_job.sql" in names
    assert not [n for n in names if n.startswith("pgrun/sql/tests/")]

    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    # The unpacked wheel comes first on the path, so its pgrun (not the checkout's) runs.
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = "import pgrun, pgrun.sql_files as s; print(pgrun.__file__); print(s.sql_root())"
    proc = subprocess.run(
        [sys.executable, "-c", where],
        env=env, capture_output=True, text=True, check=True, cwd=tmp_path)
    module_file, sql_root = proc.stdout.split()
    assert module_file.startswith(str(target)) and sql_root.startswith(str(target))
    subprocess.run([sys.executable, "-m", "pgrun.cli", "migrate", "--connection", empty_dsn],
                   env=env, check=True, capture_output=True, cwd=tmp_path)
    with psycopg.connect(empty_dsn) as conn:
        assert conn.execute("select count(*) from pgrun._private_migrations").fetchone()[0] >= 1
