"""Flow control with four real `pgrun` processes (issue 10): a key's max_running is never
exceeded (sampled continuously while they work), a rate never in any sliding window, a small
tenant's jobs start promptly beside another's flood, a job's two keys both hold it, and a
handler's RateLimited pauses its key for every worker without using up an attempt."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import psycopg

from support import scalar, wait_until

TASKS = ["--tasks", "tasks.flow", "--concurrency", "4"]
WORKERS = 4


def _start_workers(recording_workers) -> None:
    for _ in range(WORKERS):
        recording_workers.start(*TASKS)


def _add_many(conn, task: str, count: int, *, payload: dict | None = None, queue: str | None = None,
              limit_keys: list[str] | None = None, priority: int = 0) -> None:
    conn.execute(
        "select count(*) from pgrun.add_jobs(array(select row(%s, %s::json, %s, null, null, null, %s, null,"
        " null, %s::text[])::pgrun.job_spec from generate_series(1, %s)))",
        (task, json.dumps(payload or {}), queue, priority, limit_keys, count))


def _left(conn, task: str) -> int:
    return scalar(conn, "select count(*) from pgrun.jobs where task_identifier = %s", (task,))


class _Sampler:
    """Counts, as often as it can on its own connection until stopped, the running jobs each
    query sees; keeps the largest count of each and how many samples it took."""

    def __init__(self, dsn: str, queries: dict[str, str]) -> None:
        self._dsn, self._queries = dsn, queries
        self.peaks = {name: 0 for name in queries}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(self._dsn, autocommit=True) as conn:
            while not self._stop.is_set():
                for name, query in self._queries.items():
                    self.peaks[name] = max(self.peaks[name], conn.execute(query).fetchone()[0])
                self.samples += 1

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def _running(where: str) -> str:
    return f"select count(*) from pgrun._private_jobs where state = 'running' and {where}"


def test_max_running_3_is_never_exceeded_across_four_workers(conn, dsn, recording_workers):
    conn.execute("select pgrun.set_limit('hub', max_running => 3)")
    _add_many(conn, "hold", 40, payload={"seconds": 0.2}, limit_keys=["hub"])
    with _Sampler(dsn, {"hub": _running("'hub' = any(limit_keys)")}) as sampler:
        _start_workers(recording_workers)
        wait_until(lambda: _left(conn, "hold") == 0, timeout=90, message="the 40 hub jobs to complete")
    assert sampler.samples > 50, f"only {sampler.samples} samples"
    assert sampler.peaks["hub"] == 3, f"at most 3 hub jobs ran at once, and 3 did: {sampler.peaks}"
    # the handlers' own record of their runs agrees: never 4 between one's start and its end
    overlap = scalar(conn, """
        select max(n) from (
          select (select count(*) from pgrun_test_results as o
                  where o.note = 'start' and o.at <= s.at
                    and not exists (select from pgrun_test_results as e
                                    where e.job_id = o.job_id and e.note = 'end' and e.at <= s.at)) as n
          from pgrun_test_results as s where s.note = 'start') as x""")
    assert overlap <= 3
    assert scalar(conn, "select running from pgrun._private_job_queues where queue_name = 'hub'") == 0


def test_a_rate_of_20_per_10_s_is_never_exceeded_in_any_sliding_window(conn, recording_workers):
    conn.execute("select pgrun.set_limit('api', max_per_period => 20, period => '10 seconds')")
    _add_many(conn, "quick", 45, limit_keys=["api"])
    _start_workers(recording_workers)
    wait_until(lambda: _left(conn, "quick") == 0, timeout=60, message="the 45 rate-limited jobs to complete")
    starts = [row[0] for row in conn.execute(
        "select at from pgrun_test_results where note = 'start' order by at").fetchall()]
    assert len(starts) == 45
    # every window (t - 10 s, t] that ends at a start holds at most 20 starts
    worst = max(sum(1 for s in starts[: i + 1] if s > t - timedelta(seconds=10))
                for i, t in enumerate(starts))
    assert worst == 20, f"a 10 s window held {worst} starts"
    # and the workers woke when the budget refilled (next_due_in), not a poll later
    span = (starts[-1] - starts[0]).total_seconds()
    assert 20 <= span < 30, f"45 starts at 20 per 10 s took {span:.1f} s"


def test_a_small_tenants_jobs_start_promptly_beside_a_flood(conn, recording_workers):
    conn.execute("select pgrun.set_limit('tenant:*', max_running => 10)")
    _add_many(conn, "quick", 20_000, queue="tenant:big", payload={"record": False})
    _start_workers(recording_workers)
    wait_until(lambda: _left(conn, "quick") < 19_000, timeout=60, message="the flood to be draining")
    added = scalar(conn, "select max((pgrun.add_job('quick', '{}', queue_name => 'tenant:small')).created_at)"
                         " from generate_series(1, 50)")
    wait_until(lambda: scalar(conn, "select count(*) from pgrun_test_results") == 50, timeout=60,
               message="the small tenant's 50 jobs to start")
    waits = sorted(r[0] for r in conn.execute(
        "select extract(epoch from at - %s)::float8 from pgrun_test_results", (added,)).fetchall())
    p99 = waits[int(0.99 * (len(waits) - 1))]
    left = _left(conn, "quick")
    assert left > 1_000, f"the flood was nearly over ({left} left): the test shows nothing"
    assert p99 < 2.0, f"the small tenant's jobs started with a p99 of {p99:.2f} s"


def test_two_keys_on_one_job_both_hold_it(conn, dsn, recording_workers):
    conn.execute("select pgrun.set_limit('tenant:*', max_running => 2)")
    conn.execute("select pgrun.set_limit('crm', max_running => 3)")
    _add_many(conn, "hold", 12, payload={"seconds": 0.2}, queue="tenant:42", limit_keys=["crm"])
    _add_many(conn, "hold", 12, payload={"seconds": 0.2}, limit_keys=["crm"])
    _add_many(conn, "hold", 12, payload={"seconds": 0.2}, queue="tenant:42")
    queries = {"tenant": _running("queue_name = 'tenant:42'"), "crm": _running("'crm' = any(limit_keys)")}
    with _Sampler(dsn, queries) as sampler:
        _start_workers(recording_workers)
        wait_until(lambda: _left(conn, "hold") == 0, timeout=120, message="the 36 jobs to complete")
    assert sampler.samples > 50
    assert sampler.peaks == {"tenant": 2, "crm": 3}, sampler.peaks
    assert scalar(conn, "select sum(running) from pgrun._private_job_queues") == 0


def test_rate_limited_pauses_its_key_for_every_worker_and_keeps_the_attempt(conn, recording_workers):
    conn.execute("select pgrun.set_limit('prov', max_running => 1)")
    _add_many(conn, "provider", 1, payload={"answer": 429, "key": "prov", "retry_after": 5},
              limit_keys=["prov"], priority=-1)
    _add_many(conn, "provider", 6, payload={}, limit_keys=["prov"])
    _start_workers(recording_workers)
    wait_until(lambda: scalar(conn, "select paused_until from pgrun._private_job_queues "
                                    "where queue_name = 'prov'") is not None,
               timeout=30, message="the handler's RateLimited to pause prov")
    paused_until = scalar(conn, "select paused_until from pgrun._private_job_queues "
                                "where queue_name = 'prov'")
    # other keys run on meanwhile
    _add_many(conn, "quick", 5)
    wait_until(lambda: _left(conn, "provider") == 0, timeout=60, message="the provider jobs to complete")
    rows = conn.execute("select job_id, attempt, at from pgrun_test_results where task = 'provider' "
                        "order by at").fetchall()
    first = rows[0]
    assert len(rows) == 8  # the one that met the limit ran twice
    assert all(at >= paused_until for _, _, at in rows[1:]), "a prov job started while prov was paused"
    assert [attempt for job_id, attempt, _ in rows if job_id == first[0]] == [1, 1], \
        "the attempt that met the limit was given back"
    quick = conn.execute("select min(at) from pgrun_test_results where task = 'quick'").fetchone()[0]
    assert quick < paused_until, "jobs of other keys waited for the pause"
    assert time.time() > paused_until.timestamp()
