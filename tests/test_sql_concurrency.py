"""Concurrency proofs for the SQL core (schema 2).

Every test races real sessions: one thread per session, each with its own
connection, lined up on a barrier (or an event) so they really overlap. The
assertions count what each session saw (claims per job id, answers per
attempt, jobs released per worker, jobs running per queue); nothing here
assumes timings. The only clocks are statement timeouts, which turn a wait
for a lock that must not happen into an error, and a no-progress guard
(Progress), which turns a session spinning on a job nobody can claim into a
failure rather than a hang.

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
# A session that keeps finding nothing to do while work remains (a job the
# claim cannot find) fails after this long without progress, rather than
# spinning until the race hangs.
STUCK_S = 20


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
        try:
            results = [f.result(timeout=RACE_TIMEOUT_S) for f in futures]
        except BaseException:
            stop.set()  # consumers end; a stuck producer ends through its Progress
            raise
    return results[: len(producers)], results[len(producers):]


class Progress:
    """Watches a loop that waits for work others hold: fails it once nothing
    has moved for STUCK_S (only a failing run ever waits that long)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.last = time.monotonic()

    def made(self) -> None:
        self.last = time.monotonic()

    def none(self, conn: psycopg.Connection) -> None:
        if time.monotonic() - self.last > STUCK_S:
            left = conn.execute("select state, queue_name, count(*) from pgrun._private_jobs"
                                " group by 1, 2 order by 1, 2").fetchall()
            raise AssertionError(f"{self.what}: nothing claimed for {STUCK_S} s while jobs remain: {left}")


def ids(rows: list[tuple]) -> list[int]:
    return [row[0] for row in rows]


def db_now(conn: psycopg.Connection) -> datetime:
    return conn.execute("select now()").fetchone()[0]


def add_plain_jobs(conn: psycopg.Connection, count: int, queue_name: str | None = None,
                   max_attempts: int = 1, task: str = "plain") -> list[int]:
    rows = conn.execute(
        "select id from pgrun.add_jobs(array("
        " select row(%s, null, %s, null, %s, null, null, null, null, null)::pgrun.job_spec"
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


def attempts_of(rows: Sequence[tuple]) -> list[tuple[int, int]]:
    """The (id, lease) of each claimed row (id, lease, ...)."""
    return [(row[0], row[1]) for row in rows]


def send_outcome(conn: psycopg.Connection, kind: str, worker_id: str,
                 attempts: Sequence[tuple[int, int]]) -> dict[int, str]:
    """One call of complete_attempts, fail_attempts or return_attempts (kind
    'complete', 'fail', 'return') for these (id, lease) attempts; returns
    each id's answer (exactly one per id)."""
    job_ids = [a[0] for a in attempts]
    leases = [a[1] for a in attempts]
    if kind == "complete":
        rows = conn.execute("select job_id, outcome from pgrun.complete_attempts(%s, %s::bigint[],"
                            " %s::bigint[])", (worker_id, job_ids, leases)).fetchall()
    elif kind == "fail":
        rows = conn.execute("select job_id, outcome from pgrun.fail_attempts(%s, %s::bigint[], %s::bigint[],"
                            " %s::text[])", (worker_id, job_ids, leases, ["boom"] * len(job_ids))).fetchall()
    else:
        assert kind == "return", kind
        rows = conn.execute("select job_id, outcome from pgrun.return_attempts(%s, %s::bigint[],"
                            " %s::bigint[])", (worker_id, job_ids, leases)).fetchall()
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
  and exists (select from pgrun._private_jobs as j
              where j.queue_name = q.queue_name and j.state = 'available')
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
        progress = Progress(worker_id)
        while True:
            if api == "leases":
                rows = claim(conn, worker_id, max(batch, 1))
            elif batch == 0:
                rows = conn.execute("select id, lease, queue_name from pgrun.get_job(%s)"
                                    " where id is not null", (worker_id,)).fetchall()
            else:
                rows = conn.execute("select id, lease, queue_name from pgrun.get_jobs(%s, max_jobs => %s)",
                                    (worker_id, batch)).fetchall()
            if not rows:
                if any_job_ready(conn):
                    progress.none(conn)
                    continue  # the rest is held by others or behind a busy queue
                return claimed
            progress.made()
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
                for kind, attempts in (("complete", to_complete), ("fail", to_fail)):
                    done = end_held_jobs(conn, kind, worker_id, ids(attempts))
                    assert sorted(done) == sorted(ids(attempts))

    return session


def four_claimers(api: str, fail_every: int, batches: Sequence[int],
                  check_queues: bool = False) -> list[Session]:
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
    assert conn.execute("select count(*) from pgrun._private_job_queues"
                        " where running <> 0").fetchone()[0] == 0


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
    # 3,000 listed queues, each with one 'wanted-task' job whose row a holder
    # keeps locked: a claim for PICK_BATCH jobs visits them in three rounds of
    # PICK_BATCH + 8 queues, and the target queue (its job has the worst
    # priority) comes last in the last round. The statement that picks the
    # target's job probes ~1,000 queues (one index probe each, skipping the
    # locked row) between its snapshot and the target's row lock: a window for
    # the change to land in.
    conn.execute(
        "select count(*) from pgrun.add_jobs(array(select row('wanted-task', null, 'stuck-' || q, null,"
        " null, null, null, null, null, null)::pgrun.job_spec from generate_series(1, 3000) q))")
    # 'busy' is full: its one job runs.
    conn.execute("select pgrun.add_job('blocker', queue_name => 'busy')")
    register(conn, worker("blocker"))
    assert len(claim(conn, worker("blocker"), 1, ["blocker"])) == 1
    conn.execute("analyze pgrun._private_jobs")
    picker_id = worker("picker")
    register(conn, picker_id)
    assert conn.execute("select count(*) from pgrun._private_queue_heads").fetchone()[0] == 3000

    with connect(dsn) as holder, connect(dsn) as picker, connect(dsn) as changer:
        holder.execute("begin")
        holder.execute("select from pgrun._private_jobs where queue_name like 'stuck-%' for update")
        assert claim(picker, picker_id, PICK_BATCH, ["wanted-task"]) == []  # caches plans
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
        holder.execute("rollback")

    assert bad_claims == [], f"claimed after `{change_sql}`: {bad_claims}"
    assert overlapped, "the change never landed while claim_jobs ran: this test raced nothing"
    assert_counters_exact(conn)


def picker_is_running(observer: psycopg.Connection, pid: int) -> bool:
    return observer.execute(
        "select exists (select from pg_stat_activity where pid = %s and state = 'active'"
        " and query like '%%claim_jobs%%')", (pid,)).fetchone()[0]


# -- (b) add_job on one key while workers claim it ---------------------------


def keyed_adder(name: str, key: str, mode: str, rounds: int, batch: bool = False) -> Session:
    """Calls add_job on `key` again and again; returns every row it got back
    with what it sent."""

    def session(conn: psycopg.Connection) -> list[tuple]:
        got = []
        for n in range(rounds):
            item = {"adder": name, "n": n}
            payload = [item] if batch else item
            row = conn.execute(
                "select id, key, task_identifier, payload from pgrun.add_job('keyed', %s::json,"
                " queue_name => %s, max_attempts => %s, job_key => %s, job_key_mode => %s)",
                (json.dumps(payload), "keyed-queue" if n % 3 == 0 else None, 1 + n % 2, key, mode),
            ).fetchone()
            got.append((payload, row))
        return got

    return session


def keyed_worker(name: str, fail: bool, api: str) -> Session:
    """Claims whatever is there until stopped, failing every other job when
    `fail`; returns the payloads of the jobs it completed. api 'leases':
    registered, claim_jobs and complete_attempts/fail_attempts; 'graphile':
    unregistered, get_jobs and complete_job/fail_job."""
    worker_id = worker(name)

    def session(conn: psycopg.Connection, stop: threading.Event) -> list:
        if api == "leases":
            register(conn, worker_id)
        completed_payloads = []
        n = 0
        while not stop.is_set():
            if api == "leases":
                rows = claim(conn, worker_id, 2, columns="id, lease, payload")
            else:
                rows = conn.execute("select id, lease, payload from pgrun.get_jobs(%s, max_jobs => 2)",
                                    (worker_id,)).fetchall()
            for job_id, lease, payload in rows:
                n += 1
                failing = fail and n % 2
                if api == "leases":
                    end_held_attempts(conn, "fail" if failing else "complete", worker_id, [(job_id, lease)])
                elif failing:
                    conn.execute("select pgrun.fail_job(%s, %s, 'boom')", (worker_id, job_id))
                else:
                    conn.execute("select pgrun.complete_job(%s, %s)", (worker_id, job_id))
                if not failing:
                    completed_payloads.append(payload)
        return completed_payloads

    return session


def assert_every_add_answered(results: list[list[tuple]], key: str) -> None:
    for got in results:
        for payload, row in got:
            assert row is not None and row[0] is not None, f"add_job returned a row of nulls for {payload}"
            assert row[1] == key and row[2] == "keyed"


FINAL_STATES = ("completed", "failed", "cancelled")


def assert_one_pending_job_holds(conn: psycopg.Connection, key: str) -> None:
    rows = conn.execute(
        "select key, attempts, state, locked_at, run_at <= now() from pgrun.jobs"
        " where key = %s or state not in ('completed', 'failed', 'cancelled')", (key,)).fetchall()
    assert len(rows) == 1, rows
    # Due and waiting. It may still say 'scheduled' (promoted by the next
    # claim): preserve_run_at keeps a run_at written by an adder whose
    # transaction began after the one that replaced it, hence after its now().
    assert rows[0] in ((key, 0, "available", None, True), (key, 0, "scheduled", None, True)), rows
    # Every job that gave its key up is finished, never to be retried.
    assert conn.execute(
        "select count(*) from pgrun.jobs"
        " where key is null and state not in ('completed', 'failed', 'cancelled')").fetchone()[0] == 0


@pytest.mark.parametrize("mode", ["replace", "preserve_run_at"])
def test_add_job_on_one_key_racing_with_claims_always_returns_the_keyed_job(conn, dsn, mode):
    key = "the-key"
    adds, _ = race(
        dsn,
        [keyed_adder("a", key, mode, 250), keyed_adder("b", key, mode, 250)],
        [keyed_worker("completer", fail=False, api="leases"), keyed_worker("failer", fail=True, api="leases"),
         keyed_worker("graphile", fail=True, api="graphile")],
    )
    assert_every_add_answered(adds, key)

    # The workers have stopped; two last calls race each other only.
    last, _ = race(dsn, [keyed_adder("c", key, mode, 1), keyed_adder("d", key, mode, 1)])
    assert_every_add_answered(last, key)
    assert_one_pending_job_holds(conn, key)
    assert_counters_exact(conn)


def test_batch_job_items_are_each_run_once_while_add_job_races_with_claims(conn, dsn):
    key = "the-batch"
    adds, completed = race(
        dsn,
        [keyed_adder("a", key, "replace", 250, batch=True),
         keyed_adder("b", key, "replace", 250, batch=True)],
        [keyed_worker("w1", fail=False, api="leases"), keyed_worker("w2", fail=False, api="graphile")],
    )
    assert_every_add_answered(adds, key)
    # Whatever is still queued is run by one last worker.
    register(conn, worker("last"))
    left = claim(conn, worker("last"), 100, columns="payload")
    run_items = [json.dumps(item, sort_keys=True)
                 for payloads in completed + [[p for (p,) in left]]
                 for payload in payloads for item in payload]
    added_items = [json.dumps(payload[0], sort_keys=True) for got in adds for payload, _ in got]
    assert Counter(run_items) == Counter(added_items)


# -- (c) add_jobs with keyed specs while workers claim ------------------------

KEYS = [f"key-{k:02d}" for k in range(30)]


def keyed_specs(rng: random.Random, n: int) -> list[dict]:
    """A batch of specs over some of KEYS, in random order; every 7th batch
    repeats a key (add_jobs then goes spec by spec) and one spec has no key."""
    keys = rng.sample(KEYS, 8)
    if n % 7 == 0:
        keys.append(keys[0])
    specs = [{"identifier": "keyed", "payload": {"n": n, "i": i},
              "queue_name": "specs-queue" if i % 4 == 0 else None,
              "max_attempts": 1 + i % 2, "job_key": k} for i, k in enumerate(keys)]
    specs.append({"identifier": "plain", "payload": {"n": n}, "queue_name": None,
                  "max_attempts": 1, "job_key": None})
    return specs


ADD_JOBS_SQL = """
select j.id, j.key, j.task_identifier
from pgrun.add_jobs(array(
  select row(s.identifier, s.payload, s.queue_name, null, s.max_attempts, s.job_key, null, null, null, null)
           ::pgrun.job_spec
  from rows from (jsonb_to_recordset(%s::jsonb)
      as (identifier text, payload json, queue_name text, max_attempts smallint, job_key text))
    with ordinality as s(identifier, payload, queue_name, max_attempts, job_key, ord)
  order by s.ord)) as j
"""


def add_jobs(conn: psycopg.Connection, specs: list[dict]) -> list[tuple]:
    return conn.execute(ADD_JOBS_SQL, (json.dumps(specs),)).fetchall()


def specs_adder(seed: int, rounds: int) -> Session:
    def session(conn: psycopg.Connection) -> list[tuple]:
        rng = random.Random(seed)
        answers = []
        for n in range(rounds):
            specs = keyed_specs(rng, n)
            answers.append((specs, add_jobs(conn, specs)))
        return answers

    return session


def batch_worker(name: str, api: str) -> Session:
    """Claims up to 5 jobs at a time until stopped; fails the odd ids and
    completes the even ones with one batch call each, as the runner does:
    fail_attempts/complete_attempts (api 'leases') or fail_held_jobs/
    complete_held_jobs after get_jobs (api 'graphile')."""
    worker_id = worker(name)

    def session(conn: psycopg.Connection, stop: threading.Event) -> int:
        if api == "leases":
            register(conn, worker_id)
        claimed = 0
        while not stop.is_set():
            if api == "leases":
                held = claim(conn, worker_id, 5, columns="id, lease")
            else:
                held = conn.execute("select id, lease from pgrun.get_jobs(%s, max_jobs => 5)",
                                    (worker_id,)).fetchall()
            claimed += len(held)
            odd = [(job_id, lease) for job_id, lease in held if job_id % 2]
            even = [(job_id, lease) for job_id, lease in held if not job_id % 2]
            if api == "leases":
                end_held_attempts(conn, "fail", worker_id, odd)
                end_held_attempts(conn, "complete", worker_id, even)
            else:
                assert sorted(end_held_jobs(conn, "fail", worker_id, ids(odd))) == sorted(ids(odd))
                assert sorted(end_held_jobs(conn, "complete", worker_id, ids(even))) == sorted(ids(even))
        return claimed

    return session


def assert_every_spec_answered(answers: list[tuple]) -> None:
    for specs, rows in answers:
        assert len(rows) == len(specs), (specs, rows)
        assert all(row[0] is not None for row in rows), rows
        assert Counter(row[1] for row in rows) == Counter(s["job_key"] for s in specs)


def test_add_jobs_with_keyed_specs_racing_with_claims_answers_every_spec(conn, dsn):
    answers, claimed = race(dsn, [specs_adder(seed=1, rounds=300)],
                            [batch_worker("w1", "leases"), batch_worker("w2", "leases"),
                             batch_worker("w3", "graphile")])
    assert all(claimed), "every worker claimed keyed jobs while add_jobs ran"
    assert_every_spec_answered(answers[0])
    # A job that gave its key up is finished, never to be retried; nothing runs.
    assert conn.execute(
        "select count(*) from pgrun.jobs where key is null and task_identifier = 'keyed'"
        " and state not in ('completed', 'failed', 'cancelled')").fetchone()[0] == 0
    assert conn.execute("select count(*) from pgrun.jobs where state = 'running'").fetchone()[0] == 0
    assert_counters_exact(conn)


# -- lock orders, set up step by step ---------------------------------------------
#
# Each test below parks sessions on a row lock held by `holder` in an open
# transaction, checks (pg_stat_activity) that each is waiting where intended,
# then lets go, so that the sessions need the same rows at the same time. Two
# sessions that lock rows in the same order cannot deadlock; these scenes
# deadlocked while add_jobs locked keyed rows in spec order, fail_held_jobs in
# the caller's order and release_dead_workers in index order. Outcomes and
# reaping now skip a row another transaction holds instead of waiting for it
# (it comes back 'busy', or waits for the next reaper): their scenes check
# that they return at once, on a connection that would cancel a wait.

LOCK_WAIT_DEADLINE_S = 10


class SetupError(Exception):
    """The scene for a deadlock test could not be set up (not the bug under test)."""


def wait_until_waiting_for_lock(observer: psycopg.Connection, session: psycopg.Connection,
                                future: Future) -> None:
    deadline = time.monotonic() + LOCK_WAIT_DEADLINE_S
    pid = session.info.backend_pid
    while not observer.execute("select wait_event_type = 'Lock' from pg_stat_activity where pid = %s",
                               (pid,)).fetchone()[0]:
        if future.done():
            future.result()
            raise SetupError(f"session {pid} finished without waiting for a lock")
        if time.monotonic() > deadline:
            raise SetupError(f"session {pid} did not wait for a lock")


def connect_no_wait(dsn: str) -> psycopg.Connection:
    """A connection on which any wait for a lock shows as an error."""
    return psycopg.connect(dsn, autocommit=True, options=f"-c statement_timeout={NO_WAIT_TIMEOUT}")


def claimed_in_id_order(conn: psycopg.Connection, worker_id: str, count: int) -> list[tuple[int, int, str]]:
    """Claims `count` jobs for a registered worker_id; returns (id, lease, key) of each, by id."""
    rows = claim(conn, worker_id, count, columns="id, lease, key")
    assert len(rows) == count
    return sorted(rows)


def test_two_add_jobs_calls_on_the_same_keys_in_opposite_orders_do_not_deadlock(conn, dsn):
    def spec(key: str) -> dict:
        return {"identifier": "keyed", "payload": {}, "queue_name": None, "max_attempts": 5, "job_key": key}

    job = {k: conn.execute("select id from pgrun.add_job('keyed', job_key => %s)", (k,)).fetchone()[0]
           for k in ("k1", "k2", "k3")}
    with connect(dsn) as holder, connect(dsn) as a, connect(dsn) as b, ThreadPoolExecutor(2) as pool:
        with holder.transaction():
            holder.execute("select from pgrun._private_jobs where id = %s for share", (job["k3"],))
            first = pool.submit(add_jobs, a, [spec("k2"), spec("k3"), spec("k1")])
            wait_until_waiting_for_lock(holder, a, first)  # a is parked on k3
            second = pool.submit(add_jobs, b, [spec("k1"), spec("k2")])
            wait_until_waiting_for_lock(holder, b, second)  # b is parked on a row a holds
        # Both go on from here needing the same rows; in spec order a would take
        # k1 after k3, while b holds k1 and waits for k2.
        assert len(first.result()) == 3 and len(second.result()) == 2


def test_add_jobs_with_a_repeated_key_and_another_add_jobs_do_not_deadlock(conn, dsn):
    def spec(key: str) -> dict:
        return {"identifier": "keyed", "payload": {}, "queue_name": None, "max_attempts": 5, "job_key": key}

    job = {k: conn.execute("select id from pgrun.add_job('keyed', job_key => %s)", (k,)).fetchone()[0]
           for k in ("ka", "kb", "kc")}
    with connect(dsn) as holder, connect(dsn) as a, connect(dsn) as b, ThreadPoolExecutor(2) as pool:
        with holder.transaction():
            holder.execute("select from pgrun._private_jobs where id = %s for share", (job["kc"],))
            first = pool.submit(add_jobs, a, [spec("kb"), spec("kc"), spec("ka"), spec("ka")])
            wait_until_waiting_for_lock(holder, a, first)  # a holds kb, is parked on kc
            second = pool.submit(add_jobs, b, [spec("ka"), spec("kb")])
            wait_until_waiting_for_lock(holder, b, second)  # b holds ka, waits for kb
        # a gets kc, then needs ka (b's), while b waits for kb (a's).
        assert len(first.result()) == 4 and len(second.result()) == 2


def test_add_jobs_and_a_worker_failing_the_same_keyed_jobs_do_not_deadlock(conn, dsn):
    for k in ("k1", "k2", "k3"):
        conn.execute("select pgrun.add_job('keyed', job_key => %s, max_attempts => 5)", (k,))
    w = worker("w")
    register(conn, w)
    first, second, third = claimed_in_id_order(conn, w, 3)
    in_callers_order = [(job_id, lease) for job_id, lease, _ in (second, third, first)]
    with connect(dsn) as holder, connect(dsn) as a, connect_no_wait(dsn) as b, ThreadPoolExecutor(1) as pool:
        with holder.transaction():
            holder.execute("select from pgrun._private_jobs where id = %s for share", (third[0],))
            specs = [{"identifier": "keyed", "payload": {}, "queue_name": None, "max_attempts": 5,
                      "job_key": key} for _, _, key in (third, first, second)]
            adding = pool.submit(add_jobs, a, specs)
            wait_until_waiting_for_lock(holder, a, adding)  # add_jobs holds first and second, waits on third
            # The worker fails all three in its own order while add_jobs and the
            # holder lock them: it waits for neither, and every one is busy.
            assert set(send_outcome(b, "fail", w, in_callers_order).values()) == {"busy"}
        # add_jobs detaches the three running holders of its keys (they will
        # not run again) and adds a fresh job for each key.
        rows = adding.result()
        assert len(rows) == 3 and not {row[0] for row in rows} & {first[0], second[0], third[0]}
        # The worker sends its outcome again: its detached attempts end for good.
        assert end_attempts(b, "fail", w, in_callers_order) == {
            first[0]: "failed", second[0]: "failed", third[0]: "failed"}


def test_a_worker_failing_its_jobs_while_reaped_does_not_deadlock(conn, dsn):
    add_plain_jobs(conn, 3, max_attempts=5)
    register_reaper(conn, worker("reaper"))  # (see "dead workers" below)
    w = worker("slow")
    # It claimed its jobs and stopped beating a minute ago (lease timeout 20 s).
    then = register_silent_worker(conn, w)
    attempts = attempts_of(claim(conn, w, 3, now=then))
    first, second, third = sorted(attempts)
    in_callers_order = [second, third, first]
    answers: dict[int, str] = {}
    released: list[tuple] = []

    def fail(c: psycopg.Connection) -> None:
        c.execute(f"set statement_timeout = '{NO_WAIT_TIMEOUT}'")
        got = send_outcome(c, "fail", w, [a for a in in_callers_order if a[0] not in answers])
        answers.update((job_id, outcome) for job_id, outcome in got.items() if outcome != "busy")

    def release(c: psycopg.Connection) -> None:
        c.execute(f"set statement_timeout = '{NO_WAIT_TIMEOUT}'")
        released.extend(c.execute("select * from pgrun.release_dead_workers()").fetchall())

    with connect(dsn) as holder:
        with holder.transaction():
            holder.execute("select from pgrun._private_jobs where id = %s for share", (third[0],))
            # The worker fails its jobs in its own order while being reaped, and
            # a third session holds one of them: neither waits for the other or
            # for the holder, and each job ends once.
            race(dsn, [fail, release])
            assert third[0] not in answers
        # The holder is gone: the worker (sending again) and a reaper race for
        # the last job.
        race(dsn, [fail, release])
    with connect(dsn) as c:
        for _ in range(BUSY_RETRIES):  # what was busy (the reaper held it) is answered now
            if len(answers) == len(attempts):
                break
            fail(c)
    assert {name for name, _ in released} == {w}, released
    jobs = {job_id: (state, tries, len(errors or [])) for job_id, state, tries, errors in
            conn.execute("select id, state, attempts, errors from pgrun.jobs").fetchall()}
    released_ids = {job_id for job_id, (state, _, _) in jobs.items() if state == "available"}
    assert sum(n for _, n in released) == len(released_ids)
    for job_id, _ in attempts:
        # failed by the worker (answered 'retryable'), or released by the
        # reaper (the worker's answer: 'lost'); either way one error, one attempt
        expected = ("available" if answers.get(job_id) == "lost" else "retryable", 1, 1)
        assert jobs[job_id] == expected, (job_id, answers, jobs)
        assert answers.get(job_id) in ("lost", "retryable"), answers


def test_keyed_jobs_add_jobs_is_working_on_cannot_be_claimed_meanwhile(conn, dsn):
    # add_jobs locks the existing rows of its keys (in id order) before anything
    # else, so a worker cannot claim them halfway through and then lock them in
    # another order than add_jobs does.
    first = conn.execute("select id from pgrun.add_job('keyed', job_key => 'kb')").fetchone()[0]
    middle = conn.execute("select id from pgrun.add_job('keyed', job_key => 'kz')").fetchone()[0]
    last = conn.execute("select id from pgrun.add_job('keyed', job_key => 'ka')").fetchone()[0]
    # A permanently failed keyed job that add_jobs will detach; a holder parks add_jobs on it.
    failed = conn.execute("select id from pgrun.add_job('keyed', job_key => 'k0')").fetchone()[0]
    conn.execute("select pgrun.permanently_fail_jobs(array[%s::bigint])", (failed,))
    w = worker("w")
    register(conn, w)
    specs = [{"identifier": "keyed", "payload": {}, "queue_name": None, "max_attempts": 5, "job_key": key}
             for key in ("k0", "ka", "kb")]
    with connect(dsn) as holder, connect(dsn) as a, ThreadPoolExecutor(1) as pool:
        holder.execute("begin")
        holder.execute("select from pgrun._private_jobs where id = %s for share", (failed,))
        adding = pool.submit(add_jobs, a, specs)
        wait_until_waiting_for_lock(holder, a, adding)  # add_jobs holds 'kb' and 'ka', waits on 'k0'
        claimed = set(ids(claim(conn, w, 3)))
        assert claimed == {middle}
        holder.execute("commit")
        rows = adding.result()
    assert len(rows) == 3
    assert {first, last} <= {row[0] for row in rows}


# -- (d) dead workers ----------------------------------------------------------
#
# A worker is dead once its last beat is older than its lease timeout; a live
# worker reaps it only after beating unbroken for that long itself. Rather
# than wait, these tests register the dead as of a minute ago (and claim as of
# then), and a reaper as of ten minutes ago with a long lease: it is live and
# may reap at once.

SILENT_FOR = timedelta(minutes=1)


def register_reaper(conn: psycopg.Connection, worker_id: str) -> None:
    """A live worker that has beaten unbroken for ten minutes: it may reap."""
    register(conn, worker_id, heartbeat_interval="1 hour", lease_timeout="2 hours",
             now=db_now(conn) - timedelta(minutes=10))


def register_silent_worker(conn: psycopg.Connection, worker_id: str) -> datetime:
    """A worker whose last heartbeat was a minute ago (lease timeout 20 s);
    returns that moment, for it to claim as of then."""
    then = db_now(conn) - SILENT_FOR
    register(conn, worker_id, heartbeat_interval="5 seconds", lease_timeout="20 seconds", now=then)
    return then


def test_racing_reapers_and_claims_release_each_job_once(conn, dsn):
    reaper = worker("reaper")
    register_reaper(conn, reaper)
    live = worker("live")
    register(conn, live)
    for round_no in range(12):
        # Six workers went silent a minute ago holding 2-4 jobs each; two of
        # them also hold a named queue's job. Reaped ids stay reaped: new ones each round.
        dead = [worker(f"dead-{round_no}-{d}") for d in range(6)]
        conn.execute("delete from pgrun._private_jobs")
        conn.execute("delete from pgrun._private_queue_heads")
        add_plain_jobs(conn, 40, max_attempts=5)
        for d, worker_id in enumerate(dead):
            then = register_silent_worker(conn, worker_id)
            if d < 2:
                add_plain_jobs(conn, 3, queue_name=f"dead-queue-{d}", max_attempts=5)
            claim(conn, worker_id, 2 + d % 3, now=then)
        held = dict(conn.execute("select locked_by, count(*) from pgrun.jobs"
                                 " where locked_by like 'test-worker-dead-%' group by 1").fetchall())
        assert len(held) == len(dead)

        def release(c: psycopg.Connection) -> list[tuple]:
            return c.execute("select * from pgrun.release_dead_workers()").fetchall()

        def beat(c: psycopg.Connection) -> list[tuple]:
            return c.execute("select * from pgrun.heartbeat(%s)", (reaper,)).fetchall()

        def claim_and_complete(c: psycopg.Connection, stop: threading.Event) -> int:
            claimed = 0
            while not stop.is_set():
                got = claim(c, live, 3)
                claimed += len(got)
                end_held_attempts(c, "complete", live, attempts_of(got))
            return claimed

        released, _ = race(dsn, [release, beat], [claim_and_complete, claim_and_complete])

        reports = [row for rows in released for row in rows]
        assert sorted(w for w, _ in reports) == sorted(dead), f"round {round_no}: {released}"
        assert dict(reports) == held, f"round {round_no}: released {released}, held {held}"
        # Released once: one heartbeat error each, nothing left with the dead.
        assert conn.execute(
            "select count(*) from pgrun.jobs where locked_by like 'test-worker-dead-%'"
            " or jsonb_array_length(coalesce(errors, '[]')) > 1").fetchone()[0] == 0
        assert_counters_exact(conn)
        workers = dict(conn.execute("select worker_id, reaped_by from pgrun._private_workers"
                                    " where reaped_at is not null").fetchall())
        assert {w: by for w, by in workers.items() if w in dead} == {w: reaper for w in dead}
        assert reaper not in workers and live not in workers


def test_a_worker_completing_its_jobs_while_reaped_ends_each_job_once(conn, dsn):
    # Even rounds: complete_attempts with leases; odd rounds: complete_held_jobs.
    reaper = worker("reaper")
    register_reaper(conn, reaper)
    outcomes = Counter()
    for round_no in range(16):
        slow = worker(f"slow-{round_no}")
        then = register_silent_worker(conn, slow)
        add_plain_jobs(conn, 30, max_attempts=5)
        held = attempts_of(claim(conn, slow, 30, now=then))
        assert len(held) == 30

        def release(c: psycopg.Connection) -> list[tuple]:
            return c.execute("select * from pgrun.release_dead_workers()").fetchall()

        def complete(c: psycopg.Connection, held: list[tuple] = held, slow: str = slow,
                     leases: bool = round_no % 2 == 0) -> list[int]:
            if leases:
                answers = end_attempts(c, "complete", slow, held)
                assert set(answers.values()) <= {"completed", "lost"}, answers
                return [job_id for job_id, outcome in answers.items() if outcome == "completed"]
            return end_held_jobs(c, "complete", slow, ids(held))

        (released, completed), _ = race(dsn, [release, complete])
        # Each job ends once: completed by the worker (gone), or released by
        # the reaper (back in the queue, one error); the worker never waits,
        # and learns that those are no longer its own.
        assert [w for w, _ in released] == [slow], f"round {round_no}: {released}"
        left = conn.execute("select id, state, attempts, jsonb_array_length(errors) from pgrun.jobs"
                            " order by id").fetchall()
        assert released[0][1] == len(left) == 30 - len(completed), f"round {round_no}: {released} {completed}"
        assert sorted(completed + ids(left)) == sorted(ids(held))
        assert {row[1:] for row in left} <= {("available", 1, 1)}
        outcomes["completed first" if not left else "released first" if not completed else "split"] += 1
        conn.execute("delete from pgrun._private_jobs")
    assert sum(outcomes.values()) == 16, outcomes


def test_reaping_racing_live_workers_beats_reaps_no_live_worker_and_each_dead_one_once(conn, dsn):
    # Simulated time: round r happens at base + r seconds, and every call of
    # the round passes that moment as `now`. Workers beat every second (lease
    # timeout 3 s); a dying worker beats for the last time in round k, so it
    # is dead from round k + 4 on, and then reaped, exactly once, by whichever
    # of the live workers' beats (or release_dead_workers) gets there first.
    # Live workers beat, reap and claim in the same rounds: none is ever reaped.
    base = db_now(conn)

    def at(round_no: int) -> datetime:
        return base + timedelta(seconds=round_no)

    live = [worker(f"live-{n}") for n in range(4)]
    dying = {worker(f"dying-{k}"): k for k in range(2, 8)}
    everyone = live + list(dying)
    counts = {w: 1 + i % 3 for i, w in enumerate(everyone)}
    conn.execute("insert into pgrun._private_job_queues (queue_name, max_running) values ('reap-queue', 4)")
    add_plain_jobs(conn, 4, queue_name="reap-queue", max_attempts=5)
    add_plain_jobs(conn, sum(counts.values()) - 4, max_attempts=5)
    held = {}
    for w in everyone:
        register(conn, w, heartbeat_interval="1 second", lease_timeout="3 seconds", now=at(0))
        held[w] = attempts_of(claim(conn, w, counts[w], now=at(0)))
        assert len(held[w]) == counts[w]
    assert conn.execute("select count(*) from pgrun.jobs where state <> 'running'").fetchone()[0] == 0

    reaped_in: dict[str, list[tuple[int, int]]] = {}
    claimed_again: list[int] = []
    for round_no in range(1, 13):
        now = at(round_no)

        def beat(w: str, reclaim: bool, now: datetime = now) -> Session:
            def session(c: psycopg.Connection) -> tuple[list, list]:
                reports = c.execute("select * from pgrun.heartbeat(%s, now => %s)", (w, now)).fetchall()
                got = claim(c, w, 2, now=now) if reclaim else []
                end_held_attempts(c, "complete", w, attempts_of(got))
                return reports, ids(got)
            return session

        def release(c: psycopg.Connection, now: datetime = now) -> tuple[list, list]:
            return c.execute("select * from pgrun.release_dead_workers(now => %s)", (now,)).fetchall(), []

        sessions = [beat(w, True) for w in live] + [beat(w, False) for w, k in dying.items() if round_no <= k]
        results, _ = race(dsn, sessions + [release])
        for reports, got in results:
            claimed_again += got
            for dead_id, released in reports:
                reaped_in.setdefault(dead_id, []).append((round_no, released))
        reaped = {w for (w,) in conn.execute(
            "select worker_id from pgrun._private_workers where reaped_at is not null").fetchall()}
        assert reaped == {w for w, k in dying.items() if round_no >= k + 4}, f"round {round_no}: {reaped}"

    # What the last rounds released and nobody claimed yet is claimed now.
    rest = claim(conn, live[0], 50, now=at(12))
    end_held_attempts(conn, "complete", live[0], attempts_of(rest))
    claimed_again += ids(rest)
    # Each dying worker was reaped once, in the first round it was dead, and
    # all it held was released then; it learns so at its next beat.
    assert reaped_in == {w: [(k + 4, counts[w])] for w, k in dying.items()}
    with pytest.raises(psycopg.Error) as refused:
        conn.execute("select * from pgrun.heartbeat(%s, now => %s)", (next(iter(dying)), at(13)))
    assert refused.value.sqlstate == "PGR01"
    # Released once each: claimed again exactly once each by the live workers.
    dead_jobs = sorted(job_id for w in dying for job_id, _ in held[w])
    assert sorted(claimed_again) == dead_jobs
    # The live workers still run what they claimed at the start, under the same leases.
    for w in live:
        assert sorted(conn.execute("select job_id, lease from pgrun.held_attempts(%s)", (w,)).fetchall()) \
            == sorted(held[w])
        end_held_attempts(conn, "complete", w, held[w])
    assert conn.execute("select count(*) from pgrun.jobs").fetchone()[0] == 0
    assert_counters_exact(conn)


def test_a_late_outcome_of_attempt_1_is_lost_and_leaves_attempt_2_running(conn, dsn):
    reaper = worker("reaper")
    register_reaper(conn, reaper)
    first = worker("first")
    then = register_silent_worker(conn, first)
    conn.execute("insert into pgrun._private_job_queues (queue_name, max_running) values ('late-queue', 3)")
    job_ids = add_plain_jobs(conn, 30, max_attempts=5) + add_plain_jobs(conn, 3, queue_name="late-queue",
                                                                        max_attempts=5)
    attempt_1 = attempts_of(claim(conn, first, 50, now=then))
    assert sorted(ids(attempt_1)) == sorted(job_ids)
    # The first worker is cut off: its attempts are released...
    assert conn.execute("select * from pgrun.release_dead_workers()").fetchall() == [(first, len(job_ids))]
    second = worker("second")
    register(conn, second)

    def claim_again(c: psycopg.Connection) -> list[tuple[int, int]]:
        got: list[tuple[int, int]] = []
        progress = Progress(second)
        while len(got) < len(job_ids):
            more = attempts_of(claim(c, second, 1))
            if more:
                progress.made()
            else:
                progress.none(c)
            got += more
        return got

    def late_writer(kinds: Sequence[str]) -> Session:
        # ...and its outcomes of attempt 1 (a write retried after a lost
        # connection) arrive while attempt 2 is being claimed, and after.
        def session(c: psycopg.Connection, stop: threading.Event) -> Counter:
            answers: Counter = Counter()
            while True:
                for kind in kinds:
                    answers.update(send_outcome(c, kind, first, attempt_1).values())
                answers["held"] += len(end_held_jobs(c, "complete", first, ids(attempt_1)))
                if stop.is_set():
                    return answers
        return session

    (attempt_2,), late = race(dsn, [claim_again], [late_writer(["complete", "fail"]),
                                                   late_writer(["return", "complete"])])
    assert [set(answers) for answers in late] == [{"lost", "held"}] * 2, late
    assert all(answers["held"] == 0 for answers in late), late
    assert sorted(ids(attempt_2)) == sorted(job_ids)
    assert not set(attempt_2) & set(attempt_1), "a new claim, a new lease"
    running = conn.execute("select id, lease, attempts, state, locked_by from pgrun._private_jobs"
                           " order by id").fetchall()
    assert running == [(job_id, lease, 2, "running", second) for job_id, lease in sorted(attempt_2)]
    assert set(send_outcome(conn, "complete", first, attempt_1).values()) == {"lost"}
    assert set(end_attempts(conn, "complete", second, attempt_2).values()) == {"completed"}

    # The same worker, retrying: attempt 1 failed, attempt 2 claimed; attempt
    # 1's outcome sent again is lost and attempt 2 goes on.
    w = worker("retrier")
    register(conn, w, heartbeat_interval="1 hour", lease_timeout="2 hours")
    job_id = add_plain_jobs(conn, 1, max_attempts=5)[0]
    ((_, lease_1, _),) = claim(conn, w, 1)
    assert send_outcome(conn, "fail", w, [(job_id, lease_1)]) == {job_id: "retryable"}
    ((_, lease_2, _),) = claim(conn, w, 1, now=db_now(conn) + timedelta(hours=1))  # its retry is due
    for kind in ("complete", "fail", "return"):
        assert send_outcome(conn, kind, w, [(job_id, lease_1)]) == {job_id: "lost"}
    assert conn.execute("select state, attempts, lease from pgrun._private_jobs").fetchall() \
        == [("running", 2, lease_2)]
    assert send_outcome(conn, "complete", w, [(job_id, lease_2)]) == {job_id: "completed"}


# -- (e) named queues' listings under adders and claimers -------------------------
#
# The claim finds named queues only through their listings
# (_private_queue_heads): a queue with room and an available job that is not
# listed strands that job. Adders, claimers (claiming, completing, failing
# into retries, giving back) and maintain race on the same queues; then the
# claimers go on until their claims come back empty. Whatever is then still
# available, the claim could not find.

MIXED_QUEUES = {f"mixed-{n:02d}": (1, 1, 2, 3)[n % 4] for n in range(16)}
# Claims look ahead this far, so that jobs added a second later and retries
# (due ~3 s after a failure) are promoted by the claims of the same round.
LOOK_AHEAD = timedelta(seconds=10)

ADD_MIXED_SQL = """
select count(*) from pgrun.add_jobs(array(
  select row('mixed', null, s.queue_name,
             case when s.later then now() + interval '1 second' end, 2, null, s.priority, null, null, null)
           ::pgrun.job_spec
  from unnest(%s::text[], %s::boolean[], %s::integer[]) as s(queue_name, later, priority)))
"""


class Round:
    """Lets the claimers of a round know when every adder has finished."""

    def __init__(self, adders: int) -> None:
        self.adders = adders
        self.lock = threading.Lock()
        self.adders_done = threading.Event()

    def adder_done(self) -> None:
        with self.lock:
            self.adders -= 1
            if self.adders == 0:
                self.adders_done.set()


def queue_adder(seed: int, ops: int, batch: bool, round_: Round) -> Session:
    """Adds jobs to random named queues (and a few unqueued), a fifth of them
    due a second later (a claim promotes them), at random priorities: add_job
    one by one, or add_jobs five at a time. Returns how many it added."""
    names = list(MIXED_QUEUES) + [None]

    def session(conn: psycopg.Connection) -> int:
        rng = random.Random(seed)
        added = 0
        try:
            for _ in range(ops):
                size = 5 if batch else 1
                queues = [rng.choice(names) for _ in range(size)]
                later = [rng.random() < 0.2 for _ in range(size)]
                priorities = [rng.choice((-1, 0, 0, 1)) for _ in range(size)]
                if batch:
                    added += conn.execute(ADD_MIXED_SQL, (queues, later, priorities)).fetchone()[0]
                else:
                    conn.execute("select pgrun.add_job('mixed', queue_name => %s, max_attempts => 2,"
                                 " priority => %s,"
                                 " run_at => case when %s then now() + interval '1 second' end)",
                                 (queues[0], priorities[0], later[0]))
                    added += 1
        finally:
            round_.adder_done()
        return added

    return session


def mixed_worker(name: str, seed: int, round_: Round) -> Session:
    """Claims 1-4 jobs at a time (looking LOOK_AHEAD ahead); completes most,
    fails some (retried, then failed for good) and gives some back. Once
    every adder is done it stops after three claims in a row came back empty."""
    worker_id = worker(name)

    def session(conn: psycopg.Connection) -> int:
        register(conn, worker_id, heartbeat_interval="1 hour", lease_timeout="2 hours")
        rng = random.Random(seed)
        claimed = 0
        empty = 0
        while empty < 3:
            got = claim(conn, worker_id, rng.randint(1, 4), now=db_now(conn) + LOOK_AHEAD)
            claimed += len(got)
            empty = empty + 1 if not got and round_.adders_done.is_set() else 0
            by_kind: dict[str, list[tuple[int, int]]] = {"complete": [], "fail": [], "return": []}
            for job_id, lease, _ in got:
                draw = rng.random()
                kind = "complete" if draw < 0.7 else "fail" if draw < 0.85 else "return"
                by_kind[kind].append((job_id, lease))
            for kind, attempts in by_kind.items():
                end_held_attempts(conn, kind, worker_id, attempts)
        return claimed

    return session


def maintainer(conn: psycopg.Connection, stop: threading.Event) -> int:
    """maintain() in a loop: it removes full queues' listings (another remover
    racing the adders and outcomes). Its last step lists again any queue with
    room and an available job but no listing, which would mend a stranded
    job before the end of the round: as no limit is raised and no queue
    resumed here, that step must find nothing (it reads one committed
    snapshot, so anything it finds broke the invariant)."""
    calls = 0
    while not stop.is_set():
        did = dict(conn.execute("select * from pgrun.maintain()").fetchall())
        assert "queues listed again" not in did, f"maintain found unlisted queues: {did}"
        calls += 1
    return calls


def test_adders_and_claimers_of_the_same_queues_strand_no_job(conn, dsn):
    for queue_name, max_running in MIXED_QUEUES.items():
        conn.execute("insert into pgrun._private_job_queues (queue_name, max_running) values (%s, %s)",
                     (queue_name, max_running))
    added = claimed = 0
    for round_no in range(10):
        round_ = Round(adders=3)
        seed = 10 * round_no
        adds, _ = race(
            dsn,
            [queue_adder(seed, 40, False, round_), queue_adder(seed + 1, 8, True, round_),
             queue_adder(seed + 2, 40, False, round_),
             mixed_worker("m1", seed + 3, round_), mixed_worker("m2", seed + 4, round_),
             mixed_worker("m3", seed + 5, round_), mixed_worker("m4", seed + 6, round_)],
            [maintainer],
        )
        added += sum(adds[:3])
        claimed += sum(adds[3:])
        # Everything has committed: every queue with room and an available job
        # is listed, and the counters are exact...
        assert conn.execute(UNLISTED_QUEUES_SQL).fetchall() == [], f"round {round_no}: unlisted queues"
        assert_counters_exact(conn)
        # ...and since the claimers found nothing more, nothing is left to run.
        left = conn.execute("select state, queue_name, count(*) from pgrun.jobs where state <> 'failed'"
                            " group by 1, 2 order by 1, 2").fetchall()
        assert left == [], f"round {round_no}: left behind {left}"
    assert claimed >= added

    # One last worker, an hour later (every retry due), finds nothing either.
    drain = worker("drain")
    register(conn, drain, heartbeat_interval="1 hour", lease_timeout="2 hours")
    assert claim(conn, drain, 10, now=db_now(conn) + timedelta(hours=1)) == []
    assert {state for (state,) in conn.execute("select state from pgrun.jobs").fetchall()} <= {"failed"}


# -- (f) outcomes and beats never wait for an application's row locks ------------


def test_outcomes_skip_rows_an_application_locks_and_answer_busy_at_once(conn, dsn):
    unqueued = add_plain_jobs(conn, 6, max_attempts=5)
    conn.execute("insert into pgrun._private_job_queues (queue_name, max_running) values ('app-queue', 3)")
    queued = add_plain_jobs(conn, 3, queue_name="app-queue", max_attempts=5)
    (other,) = add_plain_jobs(conn, 1, queue_name="app-other", max_attempts=5)
    w = worker("w")
    register(conn, w)
    lease = {job_id: job_lease for job_id, job_lease, _ in claim(conn, w, 20)}
    assert sorted(lease) == sorted(unqueued + queued + [other])
    # An application re-keying some running jobs holds their rows, and another
    # transaction holds the row of app-other's queue.
    locked = {unqueued[0], unqueued[3], queued[1], other}
    calls = {
        "complete": [unqueued[0], unqueued[1], unqueued[2], queued[0], queued[1]],
        "fail": [unqueued[3], unqueued[4], queued[2]],
        "return": [unqueued[5], other],
    }
    expected = {"complete": "completed", "fail": "retryable", "return": "returned"}
    with connect(dsn) as app, connect_no_wait(dsn) as c:
        with app.transaction():
            app.execute("select id from pgrun._private_jobs where id = any(%s) for update",
                        (sorted(locked - {other}),))
            app.execute("select from pgrun._private_job_queues where queue_name = 'app-other' for update")
            # Each call returns at once (a wait would be cancelled at NO_WAIT_TIMEOUT):
            # the locked ones are busy, the rest are done.
            started = time.monotonic()
            assert c.execute("select * from pgrun.heartbeat(%s)", (w,)).fetchall() == []
            for kind, job_ids in calls.items():
                answers = send_outcome(c, kind, w, [(job_id, lease[job_id]) for job_id in job_ids])
                assert answers == {job_id: "busy" if job_id in locked else expected[kind]
                                   for job_id in job_ids}
            assert c.execute("select * from pgrun.complete_held_jobs(%s, %s::bigint[])",
                             (w, [unqueued[0]])).fetchall() == []
            assert time.monotonic() - started < 2.0
        # The locks are gone: sent again, the busy ones are done too.
        for kind, job_ids in calls.items():
            again = [(job_id, lease[job_id]) for job_id in job_ids if job_id in locked]
            answers = send_outcome(c, kind, w, again)
            assert set(answers.values()) <= {expected[kind]}, answers
    left = {row[0]: row[1:] for row in conn.execute("select id, state, attempts from pgrun.jobs").fetchall()}
    assert left == {**{job_id: ("retryable", 1) for job_id in calls["fail"]},
                    **{job_id: ("available", 0) for job_id in calls["return"]}}
    assert_counters_exact(conn)


def app_locker(conn: psycopg.Connection, stop: threading.Event) -> int:
    """An application that, again and again, locks a few running jobs for a
    moment (in id order, as it re-keys them); returns how many it locked."""
    locked = 0
    while not stop.is_set():
        with conn.transaction():
            rows = conn.execute("select id from pgrun._private_jobs where state = 'running'"
                                " order by id limit 3 for update").fetchall()
            if rows:
                conn.execute("select pg_sleep(0.002)")
            locked += len(rows)
    return locked


def no_wait_worker(name: str) -> Session:
    """Beats, claims and completes until no job is left, on a connection that
    cancels any statement that waits; returns what it claimed and how many
    busy answers it got."""
    worker_id = worker(name)

    def session(conn: psycopg.Connection) -> tuple[list[int], int]:
        conn.execute(f"set statement_timeout = '{NO_WAIT_TIMEOUT}'")
        register(conn, worker_id)
        claimed: list[int] = []
        busy: Counter = Counter()
        progress = Progress(worker_id)
        while True:
            conn.execute("select * from pgrun.heartbeat(%s)", (worker_id,)).fetchall()
            got = claim(conn, worker_id, 5)
            if not got:
                if conn.execute("select exists (select from pgrun._private_jobs)").fetchone()[0]:
                    progress.none(conn)
                    continue
                return claimed, busy["busy"]
            progress.made()
            claimed += ids(got)
            end_held_attempts(conn, "complete", worker_id, attempts_of(got), busy)

    return session


def test_outcomes_and_beats_racing_application_row_locks_never_wait(conn, dsn):
    all_ids = add_plain_jobs(conn, 400, max_attempts=5)
    for q in range(10):
        conn.execute("insert into pgrun._private_job_queues (queue_name, max_running) values (%s, 2)",
                     (f"app-{q}",))
        all_ids += add_plain_jobs(conn, 20, queue_name=f"app-{q}", max_attempts=5)

    results, locked = race(dsn, [no_wait_worker("n1"), no_wait_worker("n2"), no_wait_worker("n3")],
                           [app_locker, app_locker])

    per_id = Counter(job_id for claimed, _ in results for job_id in claimed)
    assert per_id.most_common(1)[0][1] == 1 and sorted(per_id) == sorted(all_ids)
    assert sum(locked), "the application never locked a running job: this test raced nothing"
    assert conn.execute("select count(*) from pgrun.jobs").fetchone()[0] == 0
    assert_counters_exact(conn)


def test_remove_jobs_racing_claims_removes_or_claims_each_job_once(conn, dsn):
    # remove_jobs waits for the rows a claim is taking; once they run it leaves them alone.
    taker = worker("remove-race")
    register(conn, taker)
    outcomes = Counter()
    for round_no in range(12):
        added = add_plain_jobs(conn, 40)

        def remove(c: psycopg.Connection, added: list[int] = added) -> list[int]:
            return ids(c.execute("select id from pgrun.remove_jobs(%s::bigint[])", (added,)).fetchall())

        def take(c: psycopg.Connection) -> list[int]:
            return ids(claim(c, taker, 40))

        (removed, claimed), _ = race(dsn, [remove, take])
        assert not set(removed) & set(claimed), f"round {round_no}: removed and claimed"
        assert sorted(removed + claimed) == sorted(added), f"round {round_no}: neither removed nor claimed"
        left = conn.execute("select id, state from pgrun.jobs order by id").fetchall()
        assert left == [(job_id, "running") for job_id in sorted(claimed)], f"round {round_no}: {left}"
        outcomes["claimed first" if not removed else "removed first" if not claimed else "split"] += 1
        conn.execute("delete from pgrun._private_jobs")
    assert sum(outcomes.values()) == 12, outcomes
