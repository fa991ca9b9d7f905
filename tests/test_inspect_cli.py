"""`pgrun jobs` (listing, show, remove, reschedule), `pgrun add`, `pgrun queues`, `pgrun workers`,
`pgrun stats`: human tables, --json, paging, and bad input that exits 2 with one line."""

from __future__ import annotations

import json

import pgrun
from support import assert_usage_error, cli, scalar


def test_add_then_list_and_filter(dsn, conn):
    code, out, err = cli("add", "emails.send", '{"to": "ada@example.com"}', "--connection", dsn)
    assert code == 0, err
    first = scalar(conn, "select max(id) from pgrun.jobs")
    assert out == f"added job {first} (task emails.send, available)\n"
    code, out, _ = cli("add", "reports.build", "--queue", "reports", "--job-key", "r:1", "--run-at", "1h",
                       "--priority", "3", "--max-attempts", "2", "--connection", dsn, "--json")
    added = json.loads(out)
    assert code == 0 and added["state"] == "scheduled" and added["task"] == "reports.build"
    row = conn.execute("select queue_name, key, priority, max_attempts, "
                       "run_at > now() + interval '50 minutes' from pgrun.jobs where id = %s",
                       (added["id"],)).fetchone()
    assert row == ("reports", "r:1", 3, 2, True)

    code, out, _ = cli("jobs", "--connection", dsn)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["ID", "TASK", "QUEUE", "STATE", "ATTEMPTS", "RUN", "AT", "KEY",
                                              "LAST", "ERROR"]
    assert [line.split()[0] for line in lines[1:]] == [str(added["id"]), str(first)]  # newest first
    code, out, _ = cli("jobs", "--task", "emails.send", "--json", "--connection", dsn)
    document = json.loads(out)
    assert [j["id"] for j in document["jobs"]] == [first] and document["next_before"] is None
    for option, value in (("--state", "scheduled"), ("--queue", "reports"), ("--key", "r:1")):
        code, out, _ = cli("jobs", option, value, "--json", "--connection", dsn)
        assert [j["id"] for j in json.loads(out)["jobs"]] == [added["id"]], option
    code, out, _ = cli("jobs", "--payload", "ADA@", "--json", "--connection", dsn)
    assert [j["id"] for j in json.loads(out)["jobs"]] == [first]
    code, out, _ = cli("jobs", "--state", "failed", "--connection", dsn)
    assert (code, out) == (0, "no jobs match\n")


def test_jobs_pages_by_id(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        ids = [utils.add_job("t", {"n": n}).id for n in range(7)]
    code, out, _ = cli("jobs", "--limit", "3", "--connection", dsn)
    assert out.splitlines()[-1] == f"(more: add --before {ids[4]})"
    seen, before = [], None
    while True:
        args = ["jobs", "--limit", "3", "--json", "--connection", dsn]
        args += ["--before", str(before)] if before else []
        page = json.loads(cli(*args)[1])
        seen += [j["id"] for j in page["jobs"]]
        before = page["next_before"]
        if before is None:
            break
    assert seen == ids[::-1]


def test_jobs_show_has_payload_errors_and_the_reason(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        job = utils.add_job("t", {"to": "ada"}, max_attempts=1)
        conn.execute("select pgrun.register_worker('show-worker-1', null)")
        lease = scalar(conn, "select lease from pgrun.claim_jobs('show-worker-1', 1) where id is not null")
        conn.execute("select pgrun.fail_attempts('show-worker-1', array[%s]::bigint[], array[%s]::bigint[], "
                     "array['SMTPError: 550\n  at send()'])", (job.id, lease))
    code, out, err = cli("jobs", "show", str(job.id), "--connection", dsn)
    assert code == 0, err
    assert out.startswith(f'job {job.id}: failed at ') and 'after 1 of 1 attempts: "SMTPError: 550"' in out
    assert '"to": "ada"' in out and "attempt 1 failed at" in out and "  at send()" in out
    document = json.loads(cli("jobs", "show", str(job.id), "--json", "--connection", dsn)[1])
    assert document["state"] == "failed" and document["payload"] == {"to": "ada"}
    assert document["errors"][0]["error"].startswith("SMTPError: 550")
    assert document["explain"]["reason"].startswith("failed at ")


def test_jobs_remove_and_reschedule(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        a = utils.add_job("t")
        b = utils.add_job("t")
    code, out, _ = cli("jobs", "reschedule", str(a.id), "--run-at", "2h", "--priority", "5",
                       "--connection", dsn)
    assert code == 0 and out.startswith(f"job {a.id}: scheduled, runs at ")
    assert scalar(conn, "select priority from pgrun.jobs where id = %s", (a.id,)) == 5
    code, out, _ = cli("jobs", "reschedule", str(a.id), "--run-at", "2030-01-01T00:00:00", "--json",
                       "--connection", dsn)
    assert code == 0 and json.loads(out)[0]["state"] == "scheduled"
    assert scalar(conn, "select run_at = '2030-01-01T00:00:00Z' from pgrun.jobs where id = %s", (a.id,))
    code, out, _ = cli("jobs", "remove", str(a.id), str(b.id), "--connection", dsn)
    assert (code, out) == (0, f"job {a.id}: removed (it was scheduled)\n"
                              f"job {b.id}: removed (it was available)\n")
    assert scalar(conn, "select count(*) from pgrun.jobs") == 0


def test_jobs_remove_takes_final_jobs_too_and_leaves_running_ones(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        failed, cancelled, running = utils.add_job("t"), utils.add_job("t"), utils.add_job("r")
        utils.permanently_fail_jobs([failed.id])
        utils.cancel_jobs([cancelled.id])
    conn.execute("select pgrun.register_worker('cli-remove-worker', null)")
    assert scalar(conn, "select count(id) from pgrun.claim_jobs('cli-remove-worker', 1, array['r'])") == 1
    code, out, _ = cli("jobs", "remove", str(failed.id), str(cancelled.id), str(running.id),
                       "--connection", dsn)
    assert (code, out) == (0, f"job {failed.id}: removed (it was failed)\n"
                              f"job {cancelled.id}: removed (it was cancelled)\n"
                              f"job {running.id}: left as it was (it is running)\n")
    assert conn.execute("select id, state from pgrun.jobs").fetchall() == [(running.id, "running")]


def test_queues_workers_and_stats(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        for _ in range(3):
            utils.add_job("mail.send", queue_name="mail")
        utils.pause_queue("mail")
        done = utils.add_job("done.task")
    conn.execute("select pgrun.register_worker('stats-worker-1', '{\"tasks\": [\"done.task\"]}')")
    rows = conn.execute("select id, lease from pgrun.claim_jobs('stats-worker-1', 1, array['done.task']) "
                        "where id is not null").fetchall()
    conn.execute("select pgrun.complete_attempts('stats-worker-1', %s::bigint[], %s::bigint[])",
                 ([r[0] for r in rows], [r[1] for r in rows]))
    with pgrun.WorkerUtils(dsn) as utils:
        running = utils.add_job("done.task")
    held = scalar(conn, "select id from pgrun.claim_jobs('stats-worker-1', 1, array['done.task']) "
                        "where id is not null")
    assert held == running.id and rows[0][0] == done.id

    code, out, _ = cli("queues", "--connection", dsn)
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("QUEUE") and lines[1].split()[:4] == ["mail", "yes", "0/1", "3"]
    assert json.loads(cli("queues", "--json", "--connection", dsn)[1])[0]["available"] == 3

    code, out, _ = cli("workers", "--connection", dsn)
    assert code == 0 and out.splitlines()[1].split()[:2] == ["stats-worker-1", "live"]
    assert out.splitlines()[1].endswith(str(held))
    [worker] = json.loads(cli("workers", "--json", "--connection", dsn)[1])
    assert worker["running_job_ids"] == [held] and worker["info"] == {"tasks": ["done.task"]}

    code, out, _ = cli("stats", "--recount", "--connection", dsn)
    assert code == 0 and "mail.send  mail   available  3" in out
    assert any(line.split()[:3] == ["done.task", "1", "0.1"] for line in out.splitlines()), out
    document = json.loads(cli("stats", "--minutes", "5", "--json", "--connection", dsn)[1])
    assert {(c["task_identifier"], c["state"], c["jobs"]) for c in document["counts"]} >= {
        ("mail.send", "available", 3), ("done.task", "running", 1)}
    assert sum(t["completed"] for t in document["throughput"]) == 1 and len(document["throughput"]) == 5


def test_bad_input_exits_2_with_one_line(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        job = utils.add_job("t")

    def usage(starts: str, *args: str) -> None:
        code, _, err = cli(*args, "--connection", dsn)
        assert_usage_error(code, err, starts)

    usage("pgrun: unknown state 'done' (known: scheduled, available,", "jobs", "--state", "done")
    usage("pgrun: jobs: Invalid value for '--limit'", "jobs", "--limit", "0")
    usage("pgrun: jobs: Invalid value for '--before'", "jobs", "--before", "x")
    usage("pgrun: payload_contains must not be empty", "jobs", "--payload", "")
    usage("pgrun: no job 424242", "jobs", "show", "424242")
    usage("pgrun: jobs show: Invalid value for 'ID'", "jobs", "show", "abc")
    usage("pgrun: no job 424242 (nothing was changed)", "jobs", "remove", str(job.id), "424242")
    usage("pgrun: no job 424242 (nothing was changed)", "jobs", "reschedule", "424242", "--priority", "1")
    usage("pgrun: jobs reschedule: give at least one of", "jobs", "reschedule", str(job.id))
    usage("pgrun: jobs reschedule: Invalid value for '--run-at': 'soon' is neither", "jobs", "reschedule",
          str(job.id), "--run-at", "soon")
    usage("pgrun: max_attempts must be between 1 and 32767", "jobs", "reschedule", str(job.id),
          "--max-attempts", "0")
    usage("pgrun: add: Invalid value for '[PAYLOAD]': not JSON", "add", "t", "{to: 1}")
    usage("pgrun: add: Missing argument 'TASK'", "add")
    usage("pgrun: stats: Invalid value for '--minutes'", "stats", "--minutes", "0")
    assert scalar(conn, "select count(*) from pgrun.jobs") == 1
    assert scalar(conn, "select state from pgrun.jobs where id = %s", (job.id,)) == "available"


def test_read_role_lists_but_cannot_remove(dsn, conn):
    role = f"pgrun_inspect_reader_{conn.info.backend_pid}"
    conn.execute(f'create role "{role}" login')
    try:
        conn.execute("select pgrun.grant_read(%s)", (role,))
        with pgrun.WorkerUtils(dsn) as utils:
            job = utils.add_job("t")
        as_reader = f"{dsn} user={role}"
        code, out, err = cli("jobs", "--json", "--connection", as_reader)
        assert code == 0 and [j["id"] for j in json.loads(out)["jobs"]] == [job.id], err
        assert cli("stats", "--connection", as_reader)[0] == 0
        assert cli("queues", "--connection", as_reader)[0] == 0
        assert cli("workers", "--connection", as_reader)[0] == 0
        assert cli("jobs", "show", str(job.id), "--connection", as_reader)[0] == 0
        code, _, err = cli("jobs", "remove", str(job.id), "--connection", as_reader)
        assert code == 1 and "permission denied" in err
    finally:
        conn.execute(f'drop owned by "{role}"')
        conn.execute(f'drop role "{role}"')
