"""Concurrency proofs for the SQL core (schema 2).

Every test races real sessions: one thread per session, each with its own
connection, lined up on a barrier (or an event) so they really overlap. The
assertions count what each session saw (claims per job id, answers per
attempt, jobs released per worker, jobs running per queue); nothing here
measures or assumes timings.

Workers come in two kinds, as in pgrun: registered workers (register_worker)
claim with claim_jobs and end each attempt with the lease their claim returned
(complete_attempts, fail_attempts, return_attempts); unregistered workers claim
as under Graphile Worker (get_job, get_jobs) and end their jobs with the
token-less functions (complete_job, fail_job, complete_held_jobs,
fail_held_jobs). Outcomes never wait for a row lock: an attempt whose row
another transaction holds comes back 'busy' and is sent again. Time moves for
reaping tests through the functions' `now` arguments, never by sleeping.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

# A statement that waits longer than this is a hang (a deadlock is reported by
# the server after deadlock_timeout, 1 s by default, long before this).
STATEMENT_TIMEOUT_MS = 20_000
RACE_TIMEOUT_S = 50
# Connections that must never wait for a row lock run with this timeout: a
# wait shows as a cancelled statement (an error), long before a hang.
NO_WAIT_TIMEOUT = "2s"
# How often an outcome is sent again while some of its rows are busy (locked
# by another transaction for the length of a statement or a short transaction).
BUSY_RETRIES = 5000


def worker(name: str) -> str:
    """A worker id (the worker API wants at least 10 characters)."""
    return f"test-worker-{name}"


def connect(dsn: str) -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=True, options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}")


Session = Callable[..., Any]


def race(dsn: str, producers: Sequence[Session], consumers: Sequence[Session] = ()) -> tuple[list, list]:
    """Runs every session in its own thread with its own connection, all released
    together by a barrier once connected.

    A producer is called as `producer(conn)` and ends on its own. A consumer is
    called as `consumer(conn, stop)` and loops until `stop` is set, which
    happens when every producer has returned (or any session has failed).
    Returns (producer results, consumer results); re-raises the first error.
    """
    stop = threading.Event()
    barrier = threading.Barrier(len(producers) + len(consumers))
    producers_left = [len(producers)]
    lock = threading.Lock()

    def run(session: Session, is_producer: bool) -> Any:
        try:
            with connect(dsn) as conn:
                barrier.wait(RACE_TIMEOUT_S)
                return session(conn) if is_producer else session(conn, stop)
        except BaseException:
            stop.set()
            barrier.abort()
            raise
        finally:
            if is_producer:
                with lock:
                    producers_left[0] -= 1
                    if producers_left[0] == 0:
                        stop.set()

    with ThreadPoolExecutor(len(producers) + len(consumers)) as pool:
        futures = [pool.submit(run, p, True) for p in producers]
        futures += [pool.submit(run, c, False) for c in consumers]
        results = [f.result(timeout=RACE_TIMEOUT_S) for f in futures]
    return results[: len(producers)], results[len(producers):]


def ids(rows: list[tuple]) -> list[int]:
    return [row[0] for row in rows]


def db_now(conn: psycopg.Connection) -> datetime:
    return conn.execute("select now()").fetchone()[0]


def add_plain_jobs(conn: psycopg.Connection, count: int, queue_name: str | None = None,
                   max_attempts: int = 1, task: str = "plain") -> list[int]:
    rows = conn.execute(
        "select id from pgrun.add_jobs(array("
        " select row(%s, null, %s, null, %s, null, null, null)::pgrun.job_spec"
        " from generate_series(1, %s)))",
        (task, queue_name, max_attempts, count),
    ).fetchall()
    return ids(rows)


def set_max_running(conn: psycopg.Connection, queue_name: str, max_running: int) -> None:
    conn.execute("update pgrun._private_job_queues set max_running = %s where queue_name = %s",
                 (max_running, queue_name))


def any_job_ready(conn: psycopg.Connection) -> bool:
    """True while some job could still be claimed (maybe once its queue frees up)."""
    return conn.execute(
        "select exists (select from pgrun._private_jobs where state = 'available'"
        " or (state in ('scheduled', 'retryable') and run_at <= now()))"
    ).fetchone()[0]


# -- schema 2: registered workers, leases, outcomes ------------------------------

# A heartbeat interval and lease timeout that outlive any race here, so that
# workers need not beat while they race (the reaping tests set their own).
LONG_BEAT = "1 minute"
LONG_LEASE = "10 minutes"


def register(conn: psycopg.Connection, worker_id: str, heartbeat_interval: str = LONG_BEAT,
             lease_timeout: str = LONG_LEASE, now: datetime | None = None) -> None:
    """Registers worker_id (as of `now`: the database's now() when None)."""
    conn.execute("select pgrun.register_worker(%s, null, %s::interval, %s::interval,"
                 " coalesce(%s::timestamptz, now()))",
                 (worker_id, heartbeat_interval, lease_timeout, now))


def claim(conn: psycopg.Connection, worker_id: str, max_jobs: int, tasks: list[str] | None = None,
          now: datetime | None = None, columns: str = "id, lease, queue_name") -> list[tuple]:
    """claim_jobs without its sentinel row (the one with id null when short)."""
    return conn.execute(
        f"select {columns} from pgrun.claim_jobs(%s, %s, %s::text[], now => coalesce(%s::timestamptz, now()))"
        " where id is not null", (worker_id, max_jobs, tasks, now)).fetchall()


def send_outcome(conn: psycopg.Connection, kind: str, worker_id: str,
                 attempts: Sequence[tuple[int, int]]) -> dict[int, str]:
    """One call of complete_attempts, fail_attempts or return_attempts (kind
    'complete', 'fail', 'return') for these (id, lease) attempts; returns
    each id's answer (exactly one per id)."""
    job_ids = [a[0] for a in attempts]
    leases = [a[1] for a in attempts]
    if kind == "complete":
        rows = conn.execute("select job_id, outcome from pgrun.complete_attempts(%s, %s::bigint[], %s::bigint[])",
                            (worker_id, job_ids, leases)).fetchall()
    elif kind == "fail":
        rows = conn.execute("select job_id, outcome from pgrun.fail_attempts(%s, %s::bigint[], %s::bigint[],"
                            " %s::text[])", (worker_id, job_ids, leases, ["boom"] * len(job_ids))).fetchall()
    else:
        assert kind == "return", kind
        rows = conn.execute("select job_id, outcome from pgrun.return_attempts(%s, %s::bigint[], %s::bigint[])",
                            (worker_id, job_ids, leases)).fetchall()
    answers = dict(rows)
    assert len(rows) == len(job_ids) and sorted(answers) == sorted(job_ids), (kind, attempts, rows)
    return answers


def end_attempts(conn: psycopg.Connection, kind: str, worker_id: str, attempts: Sequence[tuple[int, int]],
                 busy: Counter | None = None) -> dict[int, str]:
    """Sends an outcome until no id comes back 'busy' (a row another
    transaction locked: outcomes never wait, the runner sends them again);
    returns each id's final answer and counts busy answers in `busy`."""
    final: dict[int, str] = {}
    pending = [(a[0], a[1]) for a in attempts]
    for _ in range(BUSY_RETRIES):
        if not pending:
            return final
        answers = send_outcome(conn, kind, worker_id, pending)
        final.update((job_id, outcome) for job_id, outcome in answers.items() if outcome != "busy")
        pending = [a for a in pending if answers[a[0]] == "busy"]
        if busy is not None:
            busy["busy"] += len(pending)
        if pending:
            time.sleep(0.001)
    raise AssertionError(f"{kind}: still busy after {BUSY_RETRIES} tries: {pending}")


EXPECTED = {"complete": {"completed"}, "fail": {"retryable", "failed"}, "return": {"returned"}}


def end_held_attempts(conn: psycopg.Connection, kind: str, worker_id: str,
                      attempts: Sequence[tuple[int, int]], busy: Counter | None = None) -> None:
    """end_attempts for attempts the worker still holds: none may be lost."""
    answers = end_attempts(conn, kind, worker_id, attempts, busy)
    assert set(answers.values()) <= EXPECTED[kind], answers


def still_held(conn: psycopg.Connection, worker_id: str, job_ids: Sequence[int]) -> list[int]:
    return [job_id for (job_id,) in conn.execute(
        "select job_id from pgrun.held_attempts(%s) where job_id = any(%s::bigint[])",
        (worker_id, list(job_ids))).fetchall()]


def end_held_jobs(conn: psycopg.Connection, kind: str, worker_id: str, job_ids: Sequence[int]) -> list[int]:
    """Schema 1's token-less batch outcomes (complete_held_jobs, fail_held_jobs)
    for jobs the worker holds. They skip a row another transaction locks, as
    every outcome does, so whatever is still held is sent again. Returns
    every id they answered."""
    done: list[int] = []
    pending = list(job_ids)
    for _ in range(BUSY_RETRIES):
        if not pending:
            return done
        if kind == "complete":
            got = ids(conn.execute("select * from pgrun.complete_held_jobs(%s, %s::bigint[])",
                                   (worker_id, pending)).fetchall())
        else:
            got = ids(conn.execute("select id from pgrun.fail_held_jobs(%s, %s::bigint[], %s::text[])",
                                   (worker_id, pending, ["boom"] * len(pending))).fetchall())
        done += got
        pending = still_held(conn, worker_id, [job_id for job_id in pending if job_id not in got])
        if pending:
            time.sleep(0.001)
    raise AssertionError(f"{kind}_held_jobs: still held after {BUSY_RETRIES} tries: {pending}")


def queue_counts(conn: psycopg.Connection) -> list[tuple]:
    """Per queue: its running counter, its limit, and how many of its jobs run."""
    return conn.execute(
        "select q.queue_name, q.running, q.max_running,"
        " (select count(*)::integer from pgrun._private_jobs as j"
        "  where j.queue_name = q.queue_name and j.state = 'running')"
        " from pgrun._private_job_queues as q order by 1").fetchall()


def assert_counters_exact(conn: psycopg.Connection) -> None:
    wrong = [row for row in queue_counts(conn) if row[1] != row[3] or row[3] > row[2]]
    assert wrong == [], f"(queue, running counter, max_running, jobs running): {wrong}"


# Queues with room, not paused, with an available job, and no listing: the
# claim cannot find their jobs (docs/internals.md, "The invariant").
UNLISTED_QUEUES_SQL = """
select q.queue_name from pgrun._private_job_queues as q
where not q.paused and q.running < q.max_running
  and exists (select from pgrun._private_jobs as j where j.queue_name = q.queue_name and j.state = 'available')
  and not exists (select from pgrun._private_queue_heads as h where h.queue_name = q.queue_name)
order by 1
"""


# -- (a) claims --------------------------------------------------------------


def claiming_worker(name: str, batch: int, fail_every: int, api: str = "leases",
                    check_queues: bool = False) -> Session:
    """A worker that claims until nothing is left, then returns the ids it
    claimed. It fails the jobs whose id is a multiple of `fail_every` and
    completes the others.
      api 'leases': registered; claim_jobs(max_jobs => batch), then
        complete_attempts/fail_attempts with the claim's lease;
      api 'graphile': unregistered; batch 0 means get_job then complete_job/
        fail_job, else get_jobs(max_jobs => batch) then complete_held_jobs/
        fail_held_jobs.
    check_queues: after each claim, the queues it claimed from run exactly as
    many jobs as their counters say, within their limits, this worker's among them."""
    worker_id = worker(name)

    def session(conn: psycopg.Connection) -> list[int]:
        if api == "leases":
            register(conn, worker_id)
        claimed: list[int] = []
        while True:
            if api == "leases":
                rows = claim(conn, worker_id, max(batch, 1))
            elif batch == 0:
                rows = conn.execute("select id, lease, queue_name from pgrun.get_job(%s) where id is not null",
                                    (worker_id,)).fetchall()
            else:
                rows = conn.execute("select id, lease, queue_name from pgrun.get_jobs(%s, max_jobs => %s)",
                                    (worker_id, batch)).fetchall()
            if not rows:
                if any_job_ready(conn):
                    continue  # the rest is held by others or behind a busy queue
                return claimed
            assert len(rows) <= max(batch, 1)
            queues = Counter(q for _, _, q in rows if q is not None)
            if check_queues and queues:
                for queue_name, counter, limit, running in queue_counts(conn):
                    if queue_name in queues:
                        assert counter == running <= limit, (queue_name, counter, running, limit)
                        assert queues[queue_name] <= running, (queue_name, rows)
            claimed.extend(ids(rows))

            to_fail = [(job_id, lease) for job_id, lease, _ in rows if job_id % fail_every == 0]
            to_complete = [(job_id, lease) for job_id, lease, _ in rows if job_id % fail_every]
            if api == "leases":
                end_held_attempts(conn, "complete", worker_id, to_complete)
                end_held_attempts(conn, "fail", worker_id, to_fail)
            elif batch == 0:
                for job_id, _ in to_complete:
                    conn.execute("select pgrun.complete_job(%s, %s)", (worker_id, job_id))
                for job_id, _ in to_fail:
                    conn.execute("select pgrun.fail_job(%s, %s, 'boom')", (worker_id, job_id))
            else:
                assert sorted(end_held_jobs(conn, "complete", worker_id, ids(to_complete))) == sorted(ids(to_complete))
                assert sorted(end_held_jobs(conn, "fail", worker_id, ids(to_fail))) == sorted(ids(to_fail))

    return session


def four_claimers(api: str, fail_every: int, batches: Sequence[int], check_queues: bool = False) -> list[Session]:
    return [claiming_worker(f"{api}-{batch}", batch=batch, fail_every=fail_every, api=api,
                            check_queues=check_queues) for batch in batches]


CLAIMERS = [
    pytest.param("leases", (1, 3, 7, 20), id="claim_jobs"),
    pytest.param("graphile", (0, 1, 7, 20), id="get_job_get_jobs"),
]


@pytest.mark.parametrize(("api", "batches"), CLAIMERS)
def test_workers_claiming_together_never_claim_a_job_twice(conn, dsn, api, batches):
    all_ids = add_plain_jobs(conn, 3000, max_attempts=1)

    claims, _ = race(dsn, four_claimers(api, 5, batches))

    per_id = Counter(job_id for worker_claims in claims for job_id in worker_claims)
    assert per_id.most_common(1)[0][1] == 1, f"claimed twice: {[i for i, n in per_id.items() if n > 1]}"
    assert sorted(per_id) == sorted(all_ids)
    assert all(worker_claims for worker_claims in claims), "every worker got some of the work"
    # Completed jobs are gone; failed ones used their only attempt and stay, failed.
    left = conn.execute(
        "select id, state, attempts, locked_at, last_error from pgrun.jobs order by id").fetchall()
    assert [r[0] for r in left] == [i for i in sorted(all_ids) if i % 5 == 0]
    assert {r[1:] for r in left} == {("failed", 1, None, "boom")}


@pytest.mark.parametrize(("api", "batches"), CLAIMERS)
def test_named_queues_never_run_two_jobs_at_once_under_concurrent_claims(conn, dsn, api, batches):
    # Queues run one job at a time by default (max_running 1). A second running
    # job in a queue would violate this index at the moment it happened,
    # failing that worker's claim (test-only, not part of pgrun).
    conn.execute("create unique index test_one_running_job_per_queue"
                 " on pgrun._private_jobs (queue_name) where state = 'running'")
    queued_ids = []
    for q in range(30):
        queued_ids += add_plain_jobs(conn, 40, queue_name=f"queue-{q:02d}")
    all_ids = queued_ids + add_plain_jobs(conn, 800)

    claims, _ = race(dsn, four_claimers(api, 3, batches, check_queues=True))

    per_id = Counter(job_id for worker_claims in claims for job_id in worker_claims)
    assert per_id.most_common(1)[0][1] == 1, f"claimed twice: {[i for i, n in per_id.items() if n > 1]}"
    assert sorted(per_id) == sorted(all_ids)
    # A failed job used its only attempt: it stays, failed, and was never claimed again.
    left = conn.execute("select id, state, attempts, locked_at from pgrun.jobs order by id").fetchall()
    assert [r[0] for r in left] == [i for i in sorted(all_ids) if i % 3 == 0]
    assert {r[1:] for r in left} == {("failed", 1, None)}
    assert_counters_exact(conn)
    assert conn.execute("select count(*) from pgrun._private_job_queues where running <> 0").fetchone()[0] == 0


# A test-only trigger: whenever a job of a named queue starts running, the
# queue runs no more jobs than its max_running, and its running counter says
# exactly how many. Claims of one queue take turns on an advisory lock here,
# and each counts in a statement of its own, from a snapshot taken after that
# lock: it sees every other claim of the queue that got there first.
ROOM_CHECK_TRIGGER = """
create function public.test_check_room() returns trigger language plpgsql as $$
declare
  v_queue pgrun._private_job_queues;
  v_running integer;
begin
  perform pg_advisory_xact_lock(hashtext('test_check_room'), hashtext(new.queue_name));
  select * into v_queue from pgrun._private_job_queues as q where q.queue_name = new.queue_name;
  select count(*) into v_running from pgrun._private_jobs as j
  where j.queue_name = new.queue_name and j.state = 'running';
  if v_running > v_queue.max_running or v_running <> v_queue.running then
    raise exception 'queue % runs % jobs (max_running %, running counter %)',
      new.queue_name, v_running, v_queue.max_running, v_queue.running;
  end if;
  return null;
end;
$$;
create trigger test_check_room after insert or update of state on pgrun._private_jobs
  for each row when (new.state = 'running' and new.queue_name is not null)
  execute function public.test_check_room();
"""

LIMITS = {"limit-1": 1, "limit-2": 2, "limit-3": 3}


def test_queue_limits_hold_under_four_claimers(conn, dsn):
    conn.execute(ROOM_CHECK_TRIGGER)
    # The limit-1 queue, as the index test above: a second running job fails the claim.
    conn.execute("create unique index test_limit_1_runs_one on pgrun._private_jobs (queue_name)"
                 " where state = 'running' and queue_name = 'limit-1'")
    # limit-3's row exists before its jobs; limit-2 gets its limit after them.
    conn.execute("insert into pgrun._private_job_queues (queue_name, max_running) values ('limit-3', 3)")
    all_ids = add_plain_jobs(conn, 150, queue_name="limit-3")
    all_ids += add_plain_jobs(conn, 120, queue_name="limit-2")
    set_max_running(conn, "limit-2", 2)
    all_ids += add_plain_jobs(conn, 80, queue_name="limit-1")
    all_ids += add_plain_jobs(conn, 200)

    claims, _ = race(dsn, four_claimers("leases", 4, (1, 2, 5, 10), check_queues=True))

    per_id = Counter(job_id for worker_claims in claims for job_id in worker_claims)
    assert per_id.most_common(1)[0][1] == 1 and sorted(per_id) == sorted(all_ids)
    assert_counters_exact(conn)
    assert conn.execute("select count(*) from pgrun.jobs where state <> 'failed'").fetchone()[0] == 0
    # The limits are what they say, not 1: with nothing running, one claim takes
    # each queue's full room.
    for queue_name in LIMITS:
        add_plain_jobs(conn, 5, queue_name=queue_name)
    register(conn, worker("after"))
    got = Counter(q for _, _, q in claim(conn, worker("after"), 20))
    assert got == LIMITS


# A queued job is picked from a statement's snapshot and then locked. If
# another session changes it in between, the lock must re-check everything
# that made it claimable.
STALE_PICK_CHANGES = [
    pytest.param("select pgrun.permanently_fail_jobs(array[%(id)s::bigint])",
                 "attempts <= max_attempts", id="permanently_failed"),
    pytest.param("select pgrun.reschedule_jobs(array[%(id)s::bigint], run_at => now() + interval '1 hour')",
                 "run_at <= now()", id="rescheduled_later"),
    pytest.param("select pgrun.add_job('other-task', queue_name => 'target', job_key => %(key)s)",
                 "task_identifier = 'wanted-task'", id="task_replaced"),
    pytest.param("select pgrun.add_job('wanted-task', queue_name => 'busy', job_key => %(key)s)",
                 "queue_name = 'target'", id="moved_to_a_busy_queue"),
]
PICK_BATCH = 1000


@pytest.mark.parametrize(("change_sql", "still_claimable"), STALE_PICK_CHANGES)
def test_a_queued_job_changed_while_a_worker_picks_it_is_not_claimed(conn, dsn, change_sql,
                                                                      still_claimable):
    # 3,000 listed queues whose one job is of another task: a claim of
    # 'wanted-task' for PICK_BATCH jobs visits them all, in three rounds of
    # PICK_BATCH + 8 queues, and the target queue (its job has the worst
    # priority) comes last in the last round: the statement that picks the
    # target's job probes ~1,000 queues (one index probe each) between its
    # snapshot and the target's row lock, a window for the change to land in.
    conn.execute(
        "select count(*) from pgrun.add_jobs(array(select row('other-task', null, 'stuck-' || q, null,"
        " null, null, null, null)::pgrun.job_spec from generate_series(1, 3000) q))")
    # 'busy' is full: its one job runs.
    conn.execute("select pgrun.add_job('blocker', queue_name => 'busy')")
    register(conn, worker("blocker"))
    assert len(claim(conn, worker("blocker"), 1, ["blocker"])) == 1
    conn.execute("analyze pgrun._private_jobs")
    picker_id = worker("picker")
    register(conn, picker_id)
    assert conn.execute("select count(*) from pgrun._private_queue_heads").fetchone()[0] == 3000

    with connect(dsn) as picker, connect(dsn) as changer:
        claim(picker, picker_id, PICK_BATCH, ["wanted-task"])  # cache plans
        picker_pid = picker.info.backend_pid
        bad_claims = []
        overlapped = 0  # rounds where the change committed while claim_jobs was running
        for round_no in range(20):
            key = f"target-{round_no}"
            job_id = conn.execute(
                "select id from pgrun.add_job('wanted-task', queue_name => 'target', job_key => %s,"
                " max_attempts => 1, priority => 1, run_at => now() - interval '1 minute')",
                (key,)).fetchone()[0]
            started = threading.Event()
            result: list = []

            def pick(started: threading.Event = started, result: list = result) -> None:
                started.set()
                result.extend(claim(picker, picker_id, PICK_BATCH, ["wanted-task"],
                                    columns=f"id, {still_claimable}"))

            thread = threading.Thread(target=pick)
            thread.start()
            started.wait(RACE_TIMEOUT_S)
            # Line up on the picker's statement having begun, then change the job.
            while thread.is_alive() and not picker_is_running(changer, picker_pid):
                pass
            changer.execute(change_sql, {"id": job_id, "key": key})
            overlapped += picker_is_running(changer, picker_pid)
            thread.join(RACE_TIMEOUT_S)
            bad_claims += [row for row in result if row[0] == job_id and not row[1]]
            held = conn.execute("select job_id, lease from pgrun.held_attempts(%s)", (picker_id,)).fetchall()
            end_held_attempts(conn, "complete", picker_id, held)
            conn.execute("delete from pgrun._private_jobs where (queue_name = 'target' or key = %s)"
                         " and state <> 'running'", (key,))
            if bad_claims:
                break

    assert bad_claims == [], f"claimed after `{change_sql}`: {bad_claims}"
    assert overlapped, "the change never landed while claim_jobs ran: this test raced nothing"
    assert_counters_exact(conn)


def picker_is_running(observer: psycopg.Connection, pid: int) -> bool:
    return observer.execute(
        "select exists (select from pg_stat_activity where pid = %s and state = 'active'"
        " and query like '%%claim_jobs%%')", (pid,)).fetchone()[0]
