"""--log-format json: one JSON object a line, and every line of a job (the handler's own ones
included, async, plain or failing) carries its job id, task, attempt, worker and correlation id."""

from __future__ import annotations

import json
import logging
import subprocess

import psycopg

import pgrun
from pgrun.logs import FIELDS, JobFields, JsonFormatter
from support import TESTS_DIR, pgrun_command


def _run_json_worker(dsn: str) -> list[dict]:
    proc = subprocess.run([*pgrun_command(), "--tasks", "tasks.logging_tasks", "--connection", dsn, "--once",
                           "--log-format", "json", "--concurrency", "2"],
                          cwd=TESTS_DIR, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    return [json.loads(line) for line in lines]   # every line is JSON


def test_every_line_of_a_job_carries_its_fields_in_json(dsn):
    with pgrun.WorkerUtils(dsn) as utils:
        with pgrun.correlate("req-7f3a"):
            parent = utils.add_job("log.async", {})
        failing = utils.add_job("log.fails", {}, max_attempts=1)
        isolated = utils.add_job("log.isolated", {}, meta={"correlation_id": "batch-9"})
    entries = _run_json_worker(dsn)

    by_message = {e["message"]: e for e in entries}
    worker_id = by_message[next(m for m in by_message if m.startswith("worker ") and "ready" in m)]["message"]
    worker_id = worker_id.split()[1]
    mine = by_message[f"job {parent.id} (log.async): through helpers.logger"]
    assert {k: mine[k] for k in FIELDS} == {"job_id": parent.id, "task": "log.async", "attempt": 1,
                                           "worker_id": worker_id, "correlation_id": "req-7f3a"}
    assert mine["level"] == "info" and mine["logger"] == "pgrun.task" and mine["time"].endswith("+00:00")
    own = by_message["through the module's own logger"]
    assert own["logger"] == "myapp.tasks" and own["job_id"] == parent.id
    assert own["correlation_id"] == "req-7f3a"

    # the job it added carries the correlation id on, into its own lines (a plain handler's thread)
    threaded = by_message["from a plain handler's thread"]
    root = by_message["through the root logger"]
    for entry in (threaded, root):
        assert entry["task"] == "log.plain" and entry["correlation_id"] == "req-7f3a"
        assert entry["worker_id"] == worker_id and entry["attempt"] == 1 and entry["job_id"] != parent.id

    # pgrun's own lines about a job, written after it, carry the same fields; a traceback too
    failed = next(e for e in entries if e["message"].startswith(f"job {failing.id} (log.fails) failed"))
    assert failed["level"] == "error" and failed["correlation_id"] == str(failing.id)   # its own id
    assert failed["job_id"] == failing.id and failed["worker_id"] == worker_id and failed["attempt"] == 1
    assert "RuntimeError: a failure with a traceback" in failed["exception"]
    completed = next(e for e in entries if e["message"].startswith(f"job {parent.id} (log.async) completed"))
    assert completed["correlation_id"] == "req-7f3a" and completed["task"] == "log.async"

    # a process-isolated handler's lines are sent to the worker with the job's fields
    child = by_message[f"job {isolated.id} (log.isolated): from a child process"]
    assert {k: child[k] for k in FIELDS} == {"job_id": isolated.id, "task": "log.isolated", "attempt": 1,
                                            "worker_id": worker_id, "correlation_id": "batch-9"}
    assert by_message["after the child process"]["correlation_id"] == "batch-9"

    # lines outside jobs have no job fields
    ready = next(e for e in entries if "ready" in e["message"])
    assert not set(FIELDS) & set(ready)


def test_an_embedder_gets_the_fields_with_the_filter_and_the_formatter(dsn):
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Collect()
    handler.addFilter(JobFields())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("myapp.tasks")
    logger.addHandler(handler)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            job = pgrun.add_job(conn, "log.plain", {})
        from tasks import logging_tasks
        pgrun.run_once(logging_tasks, connection=dsn)
    finally:
        logger.removeHandler(handler)
    (line,) = [json.loads(r) for r in records]
    assert line["job_id"] == job.id and line["correlation_id"] == str(job.id) and line["task"] == "log.plain"
