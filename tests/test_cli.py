"""The `pgrun` command's user errors: one line on stderr, a non-zero exit, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from support import TESTS_DIR, pgrun_command

UNREACHABLE = "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=2"


def run_pgrun(*args: str, dsn: str | None = None, cwd: Path = TESTS_DIR) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin"}
    if dsn:
        env["DATABASE_URL"] = dsn
    return subprocess.run([*pgrun_command(), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def assert_one_line_error(proc: subprocess.CompletedProcess, starts: str, code: int = 1) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(starts), lines[0]


def test_missing_task_module(dsn):
    proc = run_pgrun("--tasks", "no_such_tasks", dsn=dsn)
    assert_one_line_error(proc, "pgrun: cannot import task module 'no_such_tasks'")


def test_module_without_tasks(dsn):
    proc = run_pgrun("--tasks", "tasks.empty", dsn=dsn)
    assert_one_line_error(proc, "pgrun: task module 'tasks.empty' defines no tasks")


def test_task_module_with_a_non_callable(dsn):
    proc = run_pgrun("--tasks", "tasks.not_callable", dsn=dsn)
    assert_one_line_error(proc, "pgrun: task 'oops' in task module 'tasks.not_callable' is not callable")


def test_unreachable_database():
    proc = run_pgrun("--tasks", "tasks.basic", "--connection", UNREACHABLE)
    assert_one_line_error(proc, "pgrun: cannot connect to nowhere on 127.0.0.1:1")


def test_schema_newer_than_the_code_exits_57(dsn):
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("insert into pgrun._private_migrations (id, name) values (9999, '9999_future')")
    proc = run_pgrun("--tasks", "tasks.basic", dsn=dsn)
    assert_one_line_error(proc, "pgrun: schema pgrun is at version 9999", code=57)


def test_missing_crontab_file(dsn):
    proc = run_pgrun("--tasks", "tasks.basic", "--crontab", "no/such/crontab", dsn=dsn)
    assert_one_line_error(proc, "pgrun: crontab file no/such/crontab not found")


def test_no_tasks_option_says_what_to_do():
    proc = run_pgrun()
    assert_one_line_error(proc, "pgrun: say which tasks to run: pgrun --tasks MODULE", code=2)


def test_help_shows_every_option_with_its_environment_twin():
    out = run_pgrun("--help").stdout
    for option, env in [("--tasks", "PGRUN_TASKS"), ("--connection", "PGRUN_CONNECTION, DATABASE_URL"),
                        ("--schema", "PGRUN_SCHEMA"), ("--concurrency", "PGRUN_CONCURRENCY"),
                        ("--poll-interval", "PGRUN_POLL_INTERVAL"), ("--once", "PGRUN_ONCE"),
                        ("--crontab", "PGRUN_CRONTAB"),
                        ("--no-prepared-statements", "PGRUN_NO_PREPARED_STATEMENTS"),
                        ("--log-level", "PGRUN_LOG_LEVEL"), ("--shutdown-timeout", "PGRUN_SHUTDOWN_TIMEOUT")]:
        assert option in out and env in " ".join(out.split()), option
    assert "migrate" in out


def test_options_can_come_from_the_environment(dsn, conn):
    conn.execute("select pgrun.add_job('greet', '{\"name\": \"env\"}')")
    proc = subprocess.run(
        pgrun_command(), cwd=TESTS_DIR, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "PGRUN_CONNECTION": dsn, "PGRUN_TASKS": "tasks.dict_form",
             "PGRUN_ONCE": "1", "PGRUN_CONCURRENCY": "3", "PGRUN_NO_PREPARED_STATEMENTS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "concurrency 3" in proc.stderr
    assert "job 1 (greet): hello env" in proc.stderr
    assert conn.execute("select count(*) from pgrun.jobs").fetchone()[0] == 0


def test_migrate_takes_connection_and_schema_given_before_the_subcommand(empty_dsn):
    command = [sys.executable, "-m", "pgrun.cli", "--connection", empty_dsn, "--schema", "app_jobs",
               "migrate"]
    proc = subprocess.run(command, capture_output=True, text=True, env=_without_database_env())
    assert proc.returncode == 0, proc.stderr
    assert "schema app_jobs migrated from version 0" in proc.stdout
    with psycopg.connect(empty_dsn) as c:
        assert c.execute("select to_regproc('app_jobs.add_job') is not null").fetchone()[0]


def _without_database_env() -> dict:
    env = dict(os.environ)
    for name in ("DATABASE_URL", "PGRUN_CONNECTION", "PGRUN_SCHEMA", "PGDATABASE"):
        env.pop(name, None)
    return env


def test_task_modules_import_their_sibling_modules(dsn, conn, tmp_path):
    """By name, from the current directory; by path, with the file's directory first on sys.path
    (the `pgrun` script's own directory is what Python puts there)."""
    (tmp_path / "greeting.py").write_text("def greeting(name):\n    return f'hello {name}'\n")
    (tmp_path / "cwd_tasks.py").write_text(
        "from greeting import greeting\nfrom pgrun import task\n\n@task\n"
        "def hello(payload, helpers):\n    helpers.logger.info(greeting(payload['name']))\n")
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "farewell.py").write_text("def farewell(name):\n    return f'bye {name}'\n")
    (tmp_path / "jobs" / "path_tasks.py").write_text(
        "from farewell import farewell\nfrom pgrun import task\n\n@task\n"
        "def bye(payload, helpers):\n    helpers.logger.info(farewell(payload['name']))\n")
    conn.execute("select pgrun.add_job('hello', '{\"name\": \"module\"}')")
    conn.execute("select pgrun.add_job('bye', '{\"name\": \"path\"}')")

    by_name = run_pgrun("--tasks", "cwd_tasks", "--once", dsn=dsn, cwd=tmp_path)
    assert by_name.returncode == 0, by_name.stderr
    assert "(hello): hello module" in by_name.stderr

    by_path = run_pgrun("--tasks", "jobs/path_tasks.py", "--once", dsn=dsn, cwd=tmp_path)
    assert by_path.returncode == 0, by_path.stderr
    assert "(bye): bye path" in by_path.stderr
    assert conn.execute("select count(*) from pgrun.jobs").fetchone()[0] == 0
