"""`pgrun grant enqueue|worker|admin|read ROLE` and `pgrun revoke ROLE`."""

from __future__ import annotations

import os
import subprocess

import psycopg
import pytest
from psycopg import sql

import pgrun
from support import TESTS_DIR, assert_usage_error, cli, pgrun_command


@pytest.fixture
def role(conn):
    """A role of this test run (roles are cluster-wide: the pid and a counter keep it ours)."""
    made = []

    def make(kind: str) -> str:
        name = f"pgrun_test_{kind}_{os.getpid()}_{len(made)}"
        conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(name)))
        made.append(name)
        return name

    yield make
    for name in made:
        # its privileges live in this test's database: drop them, then the role
        conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))


def as_role(dsn: str, name: str) -> psycopg.Connection:
    """A connection that acts as `name` (SET ROLE, as PostgREST does)."""
    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute(sql.SQL("set role {}").format(sql.Identifier(name)))
    return conn


def test_grant_enqueue_with_tasks_lets_the_role_add_those_and_nothing_more(dsn, conn, role):
    web = role("enqueue")
    code, out, err = cli("grant", "enqueue", web, "--task", "emails.send", "--task", "sms.send",
                         "--connection", dsn)
    assert code == 0, err
    assert out.strip() == (f"granted enqueue on schema pgrun to {web} "
                           "(tasks: emails.send, sms.send; queues: any)")
    with as_role(dsn, web) as client:
        job = pgrun.add_job(client, "emails.send", {"to": "a@example.com"})
        assert job.task_identifier == "emails.send"
        [sms] = pgrun.add_jobs(client, [pgrun.JobSpec("sms.send", {"to": "+1"})])
        assert sms.task_identifier == "sms.send"
        refused = psycopg.errors.InsufficientPrivilege
        with pytest.raises(refused, match="may not enqueue task 'reports.build'"):
            pgrun.add_job(client, "reports.build")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            client.execute("select * from pgrun.jobs")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            client.execute("select pgrun.complete_jobs(array[%s]::bigint[])", (job.id,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            client.execute("select * from pgrun.get_result(%s)", (job.id,))
    assert conn.execute("select created_by from pgrun._private_jobs where id = %s",
                        (job.id,)).fetchone()[0] == web


def test_grant_enqueue_again_replaces_the_tasks_and_queues(dsn, role):
    web = role("enqueue")
    assert cli("grant", "enqueue", web, "--task", "a", "--connection", dsn)[0] == 0
    code, out, _ = cli("--connection", dsn, "grant", "enqueue", web, "--queue", "tenant:*")
    assert code == 0
    assert "(tasks: any; queues: tenant:*)" in out
    with as_role(dsn, web) as client:
        assert pgrun.add_job(client, "b", queue_name="tenant:7").queue_name == "tenant:7"
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="may not enqueue into queue"):
            pgrun.add_job(client, "b", queue_name="other")


def test_grant_read_worker_admin_and_revoke(dsn, role):
    reader, worker, admin = role("read"), role("worker"), role("admin")
    for kind, name in (("read", reader), ("worker", worker), ("admin", admin)):
        code, out, err = cli("grant", kind, name, "--connection", dsn)
        assert code == 0, err
        assert out.strip() == f"granted {kind} on schema pgrun to {name}"
    with as_role(dsn, reader) as client:
        assert client.execute("select count(*) from pgrun.jobs").fetchone()[0] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            pgrun.add_job(client, "t")
    with as_role(dsn, worker) as client:
        job = pgrun.add_job(client, "t")
        client.execute("select pgrun.register_worker('grant-test-worker')")
        claimed = client.execute("select id from pgrun.claim_jobs('grant-test-worker', 1) "
                                 "where id is not null")
        assert [row[0] for row in claimed] == [job.id]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            client.execute("select pgrun.reschedule_jobs(array[%s]::bigint[])", (job.id,))
    with as_role(dsn, admin) as client:
        with pgrun.WorkerUtils(client) as utils:
            assert [j.id for j in utils.permanently_fail_jobs([pgrun.add_job(client, "u").id])]

    code, out, err = cli("revoke", reader, "--connection", dsn)
    assert code == 0, err
    assert out.strip() == f"revoked every pgrun right of {reader} on schema pgrun"
    with as_role(dsn, reader) as client:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            client.execute("select count(*) from pgrun.jobs")


def test_bad_input_exits_2_with_one_line(dsn):
    missing = f"pgrun_test_nobody_{os.getpid()}"
    code, _, err = cli("grant", "enqueue", missing, "--connection", dsn)
    assert_usage_error(code, err, f"pgrun: role {missing} does not exist")
    code, _, err = cli("grant", "worker", missing, "--connection", dsn)
    assert_usage_error(code, err, f"pgrun: role {missing} does not exist")
    code, _, err = cli("grant", "enqueue")
    assert_usage_error(code, err, "pgrun: grant enqueue: Missing argument 'ROLE'")
    code, _, err = cli("grant", "admin", "x", "--frobnicate")
    assert_usage_error(code, err, "pgrun: grant admin: No such option")
    code, _, err = cli("revoke")
    assert_usage_error(code, err, "pgrun: revoke: Missing argument 'ROLE'")


def test_a_bad_task_name_exits_2(dsn, role):
    web = role("enqueue")
    code, _, err = cli("grant", "enqueue", web, "--task", "x" * 129, "--connection", dsn)
    assert_usage_error(code, err, "pgrun: task identifiers must be 1 to 128 characters")
    code, _, err = cli("grant", "enqueue", web, "--task", "", "--connection", dsn)
    assert_usage_error(code, err, "pgrun: task identifiers must be 1 to 128 characters")


def test_other_failures_exit_1_with_one_line(dsn, empty_dsn):
    code, _, err = cli("grant", "read", "postgres", "--connection", empty_dsn)
    assert code == 1
    assert err.strip().splitlines() == [err.strip()]
    assert err.startswith("pgrun: pgrun is not installed in schema pgrun (run pgrun migrate)")
    code, _, err = cli("grant", "read", "postgres", "--connection", dsn, "--schema", "bad-name")
    assert code == 1
    assert err.startswith("pgrun: schema name 'bad-name' is not allowed")


def test_the_installed_command(dsn):
    """The real entry point: same one line, same exit code."""
    missing = f"pgrun_test_nobody_{os.getpid()}"
    proc = subprocess.run([*pgrun_command(), "grant", "enqueue", missing], cwd=TESTS_DIR,
                          env={"PATH": "/usr/bin:/bin", "DATABASE_URL": dsn},
                          capture_output=True, text=True, timeout=60)
    assert_usage_error(proc.returncode, proc.stderr, f"pgrun: role {missing} does not exist")
