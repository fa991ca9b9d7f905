"""`pgrun jobs cancel|retry`, `pgrun queues|tasks pause|resume`, `pgrun explain`: human
output, --json, and bad input that exits 2 with one line."""

from __future__ import annotations

import json
import subprocess

import pgrun
from support import TESTS_DIR, assert_usage_error, cli, pgrun_command, scalar


def test_queues_pause_and_resume_say_what_changed(dsn, conn):
    assert cli("queues", "pause", "mail", "--connection", dsn)[:2] == (0, "queue mail paused\n")
    assert cli("queues", "pause", "mail", "--connection", dsn)[:2] == (0, "queue mail was already paused\n")
    assert scalar(conn, "select paused from pgrun._private_job_queues where queue_name = 'mail'") is True
    code, out, _ = cli("--connection", dsn, "queues", "resume", "mail", "--json")  # the main command's option
    assert code == 0 and json.loads(out) == {"queue": "mail", "paused": False, "changed": True}


def test_tasks_pause_and_resume(dsn, conn):
    assert cli("tasks", "pause", "emails.send", "--connection", dsn)[:2] == (0, "task emails.send paused\n")
    assert scalar(conn, "select count(*) from pgrun._private_paused_tasks") == 1
    code, out, _ = cli("tasks", "resume", "emails.send", "--connection", dsn, "--json")
    assert code == 0 and json.loads(out)["changed"] is True
    code, out, _ = cli("tasks", "resume", "emails.send", "--connection", dsn)
    assert (code, out) == (0, "task emails.send was already resumed\n")


def test_explain_prints_the_reason_and_until_when(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        job = utils.add_job("t", queue_name="q")
        utils.pause_queue("q")
        later = utils.add_job("t", run_at=scalar(conn, "select now() + interval '1 day'"))
    code, out, err = cli("explain", str(job.id), "--connection", dsn)
    assert (code, out) == (0, f"job {job.id}: available, but its queue q is paused (resume_queue)\n"), err
    code, out, _ = cli("explain", str(later.id), "--connection", dsn, "--json")
    document = json.loads(out)
    assert code == 0 and document["state"] == "scheduled" and document["until"] is not None
    code, out, _ = cli("explain", str(later.id), "--connection", dsn)
    assert out.splitlines()[1].startswith("until ")


def test_jobs_cancel_and_retry(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        job = utils.add_job("t")
    code, out, _ = cli("jobs", "cancel", str(job.id), "--reason", "by hand", "--connection", dsn)
    assert (code, out) == (0, f"job {job.id}: cancelled (it was available)\n")
    code, out, _ = cli("jobs", "cancel", str(job.id), "--connection", dsn)
    assert (code, out) == (0, f"job {job.id}: left as it was (it is cancelled)\n")
    code, out, _ = cli("jobs", "retry", str(job.id), "--connection", dsn, "--json")
    assert code == 0 and json.loads(out) == [{"id": job.id, "before": "cancelled", "state": "available",
                                              "changed": True}]
    code, out, _ = cli("jobs", "retry", str(job.id), "--connection", dsn)
    assert out == (f"job {job.id}: left as it was (it is available; only failed and cancelled jobs "
                   "are retried)\n")
    # every call is audited, those that changed nothing too
    assert scalar(conn, "select count(*) from pgrun.audit_log "
                        "where action in ('cancel_jobs', 'retry_jobs')") == 4


def test_bad_input_exits_2_with_one_line_and_changes_nothing(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        job = utils.add_job("t")
    def usage(starts: str, *args: str) -> None:
        code, _, err = cli(*args, "--connection", dsn)
        assert_usage_error(code, err, starts)

    usage("pgrun: explain: Invalid value for 'ID'", "explain", "abc")
    usage("pgrun: no job 424242", "explain", "424242")
    usage("pgrun: jobs retry: Invalid value", "jobs", "retry", "x1")
    usage("pgrun: jobs cancel: Missing argument", "jobs", "cancel")
    usage("pgrun: no job 424242 (nothing was changed)", "jobs", "cancel", str(job.id), "424242")
    assert scalar(conn, "select state from pgrun.jobs where id = %s", (job.id,)) == "available"
    usage("pgrun: no queue named 'nobody'", "queues", "resume", "nobody")
    usage("pgrun: task_identifier must be 1 to 128 characters", "tasks", "pause", "")


def test_the_installed_command_has_the_control_commands(dsn):
    done = subprocess.run([*pgrun_command(), "queues", "pause", "cli-q", "--connection", dsn],
                          cwd=TESTS_DIR, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "queue cli-q paused\n"), done.stderr
