"""The installer: idempotent, concurrency-safe, any schema, refuses newer schemas."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from pgrun.errors import ConfigurationError, SchemaTooNew
from pgrun.migrate import migrate, migration_script
from pgrun.version import __version__ as pgrun_version
from pgrun.version import version_tuple
from support import latest_version


def test_migrating_twice_changes_nothing(empty_dsn):
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        first = migrate(conn, "pgrun")
        second = migrate(conn, "pgrun")
    assert (first.previous_version, first.version, first.functions_replaced) == (0, latest_version(), True)
    assert (second.previous_version, second.version, second.functions_replaced) == (
        latest_version(), latest_version(), False)


def test_ten_concurrent_installers_end_with_one_schema(empty_dsn):
    def install(_):
        with psycopg.connect(empty_dsn, autocommit=True) as conn:
            return migrate(conn, "pgrun")

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(install, range(10)))

    assert sum(1 for r in results if r.previous_version == 0) == 1
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        rows = conn.execute("select id from pgrun._private_migrations order by id").fetchall()
        assert [r[0] for r in rows] == list(range(1, latest_version() + 1))
        assert conn.execute("select count(*) from pg_namespace where nspname = 'pgrun'").fetchone()[0] == 1


def test_ten_concurrent_cli_installers_all_succeed(empty_dsn):
    procs = [
        subprocess.Popen([sys.executable, "-m", "pgrun.cli", "migrate", "--connection", empty_dsn],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(10)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 10, outputs
    assert sum("migrated from version 0" in out for out, _ in outputs) == 1


def test_schema_newer_than_code_is_refused(empty_dsn):
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        migrate(conn, "pgrun")
        conn.execute("insert into pgrun._private_migrations (id, name) values (9999, '9999_future')")
        with pytest.raises(SchemaTooNew, match="version 9999"):
            migrate(conn, "pgrun")


def test_cli_exits_57_on_a_newer_schema(empty_dsn):
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        migrate(conn, "pgrun")
        conn.execute("insert into pgrun._private_migrations (id, name) values (9999, '9999_future')")
    proc = subprocess.run([sys.executable, "-m", "pgrun.cli", "migrate", "--connection", empty_dsn],
                          capture_output=True, text=True)
    assert proc.returncode == 57
    assert "upgrade pgrun" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_any_schema_name_works_whatever_the_callers_search_path(empty_dsn):
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        migrate(conn, "graphile_worker")
        conn.execute("create schema decoy")
        conn.execute("create table decoy._private_jobs (id int)")
        conn.execute("set search_path = decoy")
        job = conn.execute("select id, task_identifier from graphile_worker.add_job('hello')").fetchone()
        claimed = conn.execute(
            "select id from graphile_worker.get_job('worker-0000001')").fetchone()
        assert claimed[0] == job[0]
        conn.execute("select graphile_worker.complete_job('worker-0000001', %s)", (job[0],))
        assert conn.execute("select count(*) from graphile_worker.jobs").fetchone()[0] == 0
        assert conn.execute("select count(*) from decoy._private_jobs").fetchone()[0] == 0


def test_bad_schema_name_is_refused(empty_dsn):
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        with pytest.raises(ConfigurationError, match="schema name"):
            migrate(conn, 'bad"name')


def test_unreachable_database_gives_one_clear_line():
    proc = subprocess.run(
        [sys.executable, "-m", "pgrun.cli", "migrate", "--connection",
         "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=2"],
        capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("pgrun: cannot connect to nowhere on 127.0.0.1:1")
    assert "Traceback" not in proc.stderr


def test_printed_script_installs_a_fresh_database(empty_dsn):
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute(migration_script("printed"))
        version = conn.execute("select max(id) from printed._private_migrations").fetchone()[0]
        assert version == latest_version()
        # The runner's installer finds it complete.
        assert migrate(conn, "printed").functions_replaced is False


def test_functions_installed_by_a_newer_pgrun_are_never_replaced_by_older_ones(empty_dsn):
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        migrate(conn, "pgrun")
        # A later release changed a function without a migration, then this (older) code starts.
        conn.execute("update pgrun._private_settings set value = 'newer' where name = 'functions_digest'")
        conn.execute("update pgrun._private_settings set value = '99.0.0' where name = 'functions_version'")
        with pytest.raises(SchemaTooNew, match="installed by pgrun 99.0.0"):
            migrate(conn, "pgrun")
        # The same functions from an older pgrun are simply replaced by ours.
        conn.execute("update pgrun._private_settings set value = '0.0.1' where name = 'functions_version'")
        assert migrate(conn, "pgrun").functions_replaced is True
        assert conn.execute("select value from pgrun._private_settings where name = 'functions_version'"
                            ).fetchone()[0] == pgrun_version


def test_version_tuple_reads_release_numbers():
    assert version_tuple("1.10.2") > version_tuple("1.9.9")
    assert version_tuple("1.2.0rc1") == (1, 2)


def test_a_private_function_whose_result_changed_is_replaced_by_the_installer(empty_dsn):
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        migrate(conn, "pgrun")
        # as an older release might have left it: same name and arguments, other OUT columns
        conn.execute("drop function pgrun._pick_queued_jobs(text[], text[], integer, text[], text[], "
                     "timestamptz)")
        conn.execute("create function pgrun._pick_queued_jobs(task_identifiers text[], "
                     "forbidden_flags text[], max_jobs integer, paused_tasks text[], closed_keys text[], "
                     "now timestamptz, out ids bigint[]) "
                     "language sql as $$ select null::bigint[] $$")
        conn.execute("update pgrun._private_settings set value = 'older' where name = 'functions_digest'")
        result = migrate(conn, "pgrun")
        assert result.functions_replaced
        out_columns = conn.execute("select array_length(proallargtypes, 1) from pg_proc "
                                   "where proname = '_pick_queued_jobs'").fetchall()
        assert out_columns == [(6 + 8,)]  # six arguments, eight OUT columns: this release's
