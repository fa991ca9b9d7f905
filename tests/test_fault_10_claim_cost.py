"""Fault 10 of issue 8: the cost of a claim grew with work that is not runnable.

The scenario (issue 8's, scaled down): 200,000 future jobs of the worker's own
task with a better priority, 100,000 available jobs of another task, and
20,000 named queues each holding one job due later. Schema 1 claimed in
32-490 ms there (index walks over the future jobs, a sequential scan behind
the other task's backlog, a visit to every queue). Now a claim reads only what
it can take: each claim by a registered worker touches at most 3 times the
buffers of the same claim on a table that holds only the runnable jobs (deeper
indexes cost a little), and claims the right jobs. Buffers, not time: EXPLAIN
(ANALYZE, BUFFERS) counts what the function's own statements touched,
planning included.
"""

from __future__ import annotations

import pytest

from fault_support import add_many, buffers, explain
from support import scalar

WORKER = "fault-10-claimer"
CLAIM = "select * from pgrun.claim_jobs(%s, %s, array['mine'])"


def _claimed(conn) -> list[int]:
    return [r[0] for r in conn.execute("select id from pgrun.jobs where state = 'running' and locked_by = %s "
                                       "order by priority, run_at, id", (WORKER,)).fetchall()]


def _claim_buffers(conn, max_jobs: int) -> int:
    node = explain(conn, CLAIM, (WORKER, max_jobs))
    assert node["Node Type"] == "Function Scan"
    return buffers(node)


def _add_runnable(conn) -> tuple[list[int], list[int]]:
    """Three queues with a job ready, and 25 unqueued jobs after them."""
    add_many(conn, 3, "mine", priority=-1, queue="ready-{n}")
    add_many(conn, 25, "mine", priority=0)
    ready_queued = [r[0] for r in conn.execute("select id from pgrun.jobs where queue_name like 'ready-%' "
                                               "and state = 'available' order by id").fetchall()]
    unqueued = [r[0] for r in conn.execute(
        "select id from pgrun.jobs where task_identifier = 'mine' and queue_name is null "
        "and state = 'available' order by id").fetchall()]
    assert (len(ready_queued), len(unqueued)) == (3, 25)
    conn.execute("analyze pgrun._private_jobs")
    conn.execute("select pgrun.heartbeat(%s)", (WORKER,))  # the lease is live (loading took a while)
    return ready_queued, unqueued


def _claim_runnable(conn, ready_queued: list[int], unqueued: list[int]) -> list[int]:
    """Three claims (1, 10, 10 jobs), each checked to take the right jobs: their buffers."""
    costs = []
    for max_jobs, expected in ((1, ready_queued[:1]),                    # the best queue head first
                               (10, ready_queued[1:] + unqueued[:8]),    # the other heads, then unqueued
                               (10, unqueued[8:18])):
        before = set(_claimed(conn))
        costs.append(_claim_buffers(conn, max_jobs))
        got = [i for i in _claimed(conn) if i not in before]
        assert sorted(got) == sorted(expected), (max_jobs, got, expected)
    return costs


def _complete_claimed(conn) -> None:
    rows = conn.execute("select id, lease from pgrun._private_jobs "
                        "where state = 'running' and locked_by = %s", (WORKER,)).fetchall()
    conn.execute("select pgrun.complete_attempts(%s, %s, %s)",
                 (WORKER, [r[0] for r in rows], [r[1] for r in rows]))
    conn.execute("delete from pgrun._private_jobs where state = 'available'")  # the 7 unqueued left over


@pytest.mark.slow
def test_a_claim_reads_what_it_can_take_not_what_waits(conn):
    conn.execute("select pgrun.register_worker(%s)", (WORKER,))
    for _ in range(3):  # this session plans the claim's statements once, on an empty table
        _claim_buffers(conn, 10)
    # The same claims on a table of runnable jobs alone.
    alone = _claim_runnable(conn, *_add_runnable(conn))
    _complete_claimed(conn)

    add_many(conn, 200_000, "mine", priority=-10, run_at="now() + interval '1 day'")
    add_many(conn, 100_000, "other", priority=0)
    add_many(conn, 20_000, "mine", priority=-5, run_at="now() + interval '1 hour'", queue="entity-{n}")
    costs = _claim_runnable(conn, *_add_runnable(conn))
    assert all(cost <= 3 * base for cost, base in zip(costs, alone, strict=True)), (
        f"claims read {costs} buffers; the same claims of runnable jobs alone read {alone}")
    # nothing else moved: the future jobs wait, the other task's backlog and the queues are untouched
    assert scalar(conn, "select count(*) from pgrun.jobs where state = 'running'") == 21
    assert scalar(conn, "select count(*) from pgrun.jobs where state = 'scheduled'") == 220_000
    assert scalar(conn, "select count(*) from pgrun.jobs where task_identifier = 'other' "
                        "and state = 'available'") == 100_000
