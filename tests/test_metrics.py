"""The worker's --metrics-port: /metrics scraped while jobs run (outcomes, durations, running
jobs, queue depth from SQL job_counts), and /health/live and /health/ready across a restart of
the database (a private cluster)."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from private_cluster import PrivateCluster, available
from support import WorkerProcess, Workers, wait_until

PORT_LINE = re.compile(r"metrics on http://127\.0\.0\.1:(\d+)/metrics")


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _port(worker: WorkerProcess) -> int:
    return int(PORT_LINE.search(worker.wait_for_line("metrics on http://")).group(1))


def _samples(port: int) -> dict[tuple, float]:
    code, text = _get(port, "/metrics")
    assert code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _value(port: int, name: str, **labels: str) -> float | None:
    return _samples(port).get((name, tuple(sorted(labels.items()))))


def test_metrics_are_scraped_while_jobs_run(dsn, conn, tmp_path):
    release = tmp_path / "release"
    # limit usage is read when the worker starts, then every 30 s: these wait before it starts
    conn.execute("select pgrun.set_limit('tenant:*', max_running => 2)")
    conn.execute("select pgrun.add_job('limited.elsewhere', limit_keys => array['tenant:7']) "
                 "from generate_series(1, 2)")
    workers = Workers(dsn)
    try:
        worker = workers.start("--tasks", "tasks.metrics_probe", "--concurrency", "4", "--metrics-port", "0")
        port = _port(worker)
        wait_until(lambda: _get(port, "/health/ready")[0] == 200, timeout=20, message="ready")
        assert _get(port, "/health/live") == (200, "live\n")
        conn.execute("select pgrun.add_job('holds', json_build_object('release', %s::text))", (str(release),))
        conn.execute("select pgrun.add_job('quick') from generate_series(1, 5)")
        conn.execute("select pgrun.add_job('fails', max_attempts => 1) from generate_series(1, 2)")
        conn.execute("select pgrun.add_job('not.run.here') from generate_series(1, 3)")

        wait_until(lambda: _value(port, "pgrun_jobs_total", task="quick", outcome="completed") == 5,
                   timeout=30, message="five completions counted")
        wait_until(lambda: _value(port, "pgrun_jobs_dead_total", task="fails") == 2, timeout=30,
                   message="two jobs dead")
        samples = _samples(port)
        assert samples[("pgrun_jobs_total", (("outcome", "failed"), ("task", "fails")))] == 2
        assert samples[("pgrun_job_duration_seconds_count", (("task", "quick"),))] == 5
        assert samples[("pgrun_worker_running_jobs", ())] == 1  # holds runs
        assert samples[("pgrun_worker_up", (("worker_id", worker_id(samples)),))] == 1
        assert samples[("pgrun_worker_listening", ())] == 1
        # queue depth comes from SQL job_counts, read every few seconds (not per job)
        wait_until(lambda: _value(port, "pgrun_queue_jobs", task="not.run.here", queue="",
                                  state="available") == 3,
                   timeout=60, message="the waiting jobs in pgrun_queue_jobs")
        wait_until(lambda: _value(port, "pgrun_limit_waiting", key="tenant:7") == 2, timeout=60,
                   message="the limit key's waiting jobs")
        assert _value(port, "pgrun_limit_max_running", key="tenant:7") == 2
        assert _value(port, "pgrun_limit_running", key="tenant:7") == 0
        assert _value(port, "pgrun_limit_paused", key="tenant:7") == 0
        assert _value(port, "pgrun_queue_oldest_waiting_seconds", task="not.run.here", queue="") >= 0
        assert _value(port, "pgrun_queue_counted_age_seconds") >= 0

        release.touch()
        wait_until(lambda: _value(port, "pgrun_worker_running_jobs") == 0, timeout=30, message="holds to end")
        assert _value(port, "pgrun_jobs_total", task="holds", outcome="completed") == 1
        assert _get(port, "/nothing")[0] == 404
    finally:
        workers.close()


def worker_id(samples: dict[tuple, float]) -> str:
    return next(dict(labels)["worker_id"] for name, labels in samples if name == "pgrun_worker_up")


@pytest.mark.slow
@pytest.mark.skipif(available() is not None, reason=f"no private cluster: {available()}")
def test_health_across_a_database_restart(tmp_path):
    cluster = PrivateCluster()
    worker = None
    try:
        cluster.start()
        worker = WorkerProcess(["--tasks", "tasks.metrics_probe", "--metrics-port", "0"], cluster.dsn)
        port = _port(worker)
        wait_until(lambda: _get(port, "/health/ready")[0] == 200, timeout=30, message="ready")

        cluster.stop()
        code, why = wait_until(lambda: (r := _get(port, "/health/ready"))[0] == 503 and r, timeout=30,
                               message="not ready while the database is down")
        assert "LISTEN connection down" in why or "database not answering" in why
        assert _get(port, "/health/live") == (200, "live\n")  # alive: nothing to restart
        assert _value(port, "pgrun_worker_ready") == 0

        cluster.start()
        wait_until(lambda: _get(port, "/health/ready") == (200, "ready\n"), timeout=60,
                   message="ready again after the restart")
        assert _value(port, "pgrun_worker_listening") == 1
    finally:
        if worker is not None:
            worker.stop()
        cluster.remove()
