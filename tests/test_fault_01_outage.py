"""Fault 1 of the schema-2 review: a database outage longer than the lease
timeout (a restart, a failover) must not make the first worker to reconnect
declare the others dead. Under schema 1 it did: their running jobs were claimed
again while still running, and a named queue ran two jobs at once.

Two real worker processes reach the database through a TCP proxy; the proxy
cuts every connection for 25 s (the lease timeout is 20 s) while long jobs run,
one named queue among them. Afterwards, from the jobs' own timeline (written to
a local file, since the database is away): no attempt of a job started while
another attempt of it ran, the named queue never ran two jobs at once, nobody
was reaped, and every job completed exactly once.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from support import Workers, scalar, wait_until
from tcp_proxy import REFUSE, TcpProxy

OUTAGE_SECONDS = 25.0   # longer than the default lease timeout (20 s)
LONG, SHORT = 40.0, 8.0  # long jobs run through the whole outage, short ones end during it


def _intervals(timeline: Path) -> list[dict]:
    """One entry per attempt: job, attempt, queue, worker, start, end (None: never ended)."""
    attempts: dict[tuple, dict] = {}
    for line in timeline.read_text().splitlines():
        note = json.loads(line)
        key = (note["job"], note["attempt"], note["worker"])
        entry = attempts.setdefault(key, {"job": note["job"], "attempt": note["attempt"],
                                          "queue": note["queue"], "worker": note["worker"],
                                          "start": None, "end": None})
        entry[note["event"]] = note["at"]
    return list(attempts.values())


def _overlapping(group: list[dict]) -> list[tuple[dict, dict]]:
    """Pairs of attempts whose runs overlap in time."""
    pairs = []
    for i, a in enumerate(group):
        for b in group[i + 1:]:
            a_end, b_end = a["end"] or float("inf"), b["end"] or float("inf")
            if a["start"] < b_end and b["start"] < a_end:
                pairs.append((a, b))
    return pairs


@pytest.mark.slow
def test_a_long_outage_makes_no_worker_declare_the_others_dead(dsn, conn, tmp_path):
    timeline = tmp_path / "timeline.jsonl"
    timeline.touch()
    with TcpProxy(max_lifetime=240) as proxy:
        workers = Workers(proxy.dsn(dsn))
        try:
            env = {"OUTAGE_TIMELINE": str(timeline)}
            first = workers.start("--tasks", "tasks.outage_probe", "--concurrency", "3", env=env)
            second = workers.start("--tasks", "tasks.outage_probe", "--concurrency", "3", env=env)
            # a serial queue (a long job, then two short ones), and four jobs without a queue
            for seconds, queue in [(LONG, "serial"), (SHORT, "serial"), (SHORT, "serial"),
                                   (LONG, None), (LONG, None), (SHORT, None), (SHORT, None)]:
                conn.execute("select pgrun.add_job('long_step', json_build_object('seconds', %s::float), "
                             "queue_name => %s)", (seconds, queue))
            total = 7
            # both workers busy: the serial queue's first job and the four others have started
            wait_until(lambda: len([a for a in _intervals(timeline) if a["start"]]) == 5, timeout=20,
                       message="five jobs to start")
            assert len({a["worker"] for a in _intervals(timeline)}) == 2

            proxy.cut(REFUSE)
            cut_at = time.monotonic()
            # The outage itself: nothing to wait for but time (both workers are cut off).
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut_at)))
            proxy.restore()

            wait_until(lambda: scalar(conn, "select count(*) from pgrun.jobs") == 0, timeout=90, interval=0.5,
                       message="every job to complete after the outage")
            output = first.output + "\n" + second.output
            assert "LISTEN connection lost" in output or "heartbeat failed" in output, output
        finally:
            workers.close()

    attempts = _intervals(timeline)
    jobs: dict[int, list[dict]] = {}
    for attempt in attempts:
        jobs.setdefault(attempt["job"], []).append(attempt)
    assert len(jobs) == total
    twice = {job: runs for job, runs in jobs.items() if _overlapping(runs)}
    assert not twice, f"jobs ran twice at the same time: {twice}"
    serial = [a for a in attempts if a["queue"] == "serial"]
    assert not _overlapping(serial), f"the serial queue ran two jobs at once: {_overlapping(serial)}"
    # nobody was reaped, so nothing ran again: one attempt per job, each finished
    assert all(len(runs) == 1 and runs[0]["end"] is not None for runs in jobs.values()), jobs
    assert "stopped sending heartbeats" not in output and "lost its lease" not in output, output
    assert scalar(conn, "select count(*) from pgrun._private_workers where reaped_at is not null") == 0
