"""Concurrency proofs for the SQL core.

Every test races real sessions: one thread per session, each with its own
connection, lined up on a barrier (or an event) so they really overlap. The
assertions count what each session saw (claims per job id, rows returned per
call, jobs released per worker); nothing here measures or assumes timings.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

# A statement that waits longer than this is a hang (a deadlock is reported by
# the server after deadlock_timeout, 1 s by default, long before this).
STATEMENT_TIMEOUT_MS = 20_000
RACE_TIMEOUT_S = 50


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


def add_plain_jobs(conn: psycopg.Connection, count: int, queue_name: str | None = None,
                   max_attempts: int = 1) -> list[int]:
    rows = conn.execute(
        "select id from pgrun.add_jobs(array("
        " select row('plain', null, %s, null, %s, null, null, null)::pgrun.job_spec"
        " from generate_series(1, %s)))",
        (queue_name, max_attempts, count),
    ).fetchall()
    return ids(rows)


def any_job_ready(conn: psycopg.Connection) -> bool:
    """True while some job could still be claimed (maybe once its queue frees up)."""
    return conn.execute(
        "select exists (select from pgrun._private_jobs"
        " where locked_at is null and attempts < max_attempts and run_at <= now())"
    ).fetchone()[0]


# -- (a) claims --------------------------------------------------------------


def claiming_worker(name: str, batch: int, fail_every: int, check_queue_locks: bool = False) -> Session:
    """A worker that claims until nothing is left, then returns the ids it
    claimed. batch 0 means get_job (the single-row form), else get_jobs with
    max_jobs => batch. It fails the jobs whose id is a multiple of `fail_every`
    and completes the others (fail_job/complete_job after get_job, the batch
    forms after get_jobs)."""
    worker_id = worker(name)

    def session(conn: psycopg.Connection) -> list[int]:
        claimed: list[int] = []
        while True:
            if batch == 0:
                rows = conn.execute(
                    "select id, queue_name from pgrun.get_job(%s)", (worker_id,)).fetchall()
                rows = [r for r in rows if r[0] is not None]
            else:
                rows = conn.execute(
                    "select id, queue_name from pgrun.get_jobs(%s, max_jobs => %s)",
                    (worker_id, batch)).fetchall()
            if not rows:
                if any_job_ready(conn):
                    continue  # the rest is held by others or behind a busy queue
                return claimed
            assert len(rows) <= max(batch, 1)
            queues = [q for _, q in rows if q is not None]
            assert len(queues) == len(set(queues)), f"one claim took two jobs of one queue: {rows}"
            if check_queue_locks:
                held = conn.execute(
                    "select queue_name from pgrun._private_job_queues where locked_by = %s",
                    (worker_id,)).fetchall()
                assert sorted(q for (q,) in held) == sorted(queues)
            claimed.extend(ids(rows))

            to_fail = [job_id for job_id, _ in rows if job_id % fail_every == 0]
            to_complete = [job_id for job_id, _ in rows if job_id not in to_fail]
            if batch == 0:
                for job_id in to_complete:
                    conn.execute("select pgrun.complete_job(%s, %s)", (worker_id, job_id))
                for job_id in to_fail:
                    conn.execute("select pgrun.fail_job(%s, %s, 'boom')", (worker_id, job_id))
            else:
                if to_complete:
                    done = conn.execute("select * from pgrun.complete_held_jobs(%s, %s)",
                                        (worker_id, to_complete)).fetchall()
                    assert sorted(ids(done)) == sorted(to_complete)
                if to_fail:
                    failed = conn.execute(
                        "select id from pgrun.fail_held_jobs(%s, %s, %s)",
                        (worker_id, to_fail, ["boom"] * len(to_fail))).fetchall()
                    assert sorted(ids(failed)) == sorted(to_fail)

    return session


def test_workers_claiming_together_never_claim_a_job_twice(conn, dsn):
    all_ids = add_plain_jobs(conn, 4000, max_attempts=1)

    claims, _ = race(dsn, [
        claiming_worker("single", batch=0, fail_every=5),
        claiming_worker("batch-1", batch=1, fail_every=5),
        claiming_worker("batch-7", batch=7, fail_every=5),
        claiming_worker("batch-20", batch=20, fail_every=5),
    ])

    per_id = Counter(job_id for worker_claims in claims for job_id in worker_claims)
    assert per_id.most_common(1)[0][1] == 1, f"claimed twice: {[i for i, n in per_id.items() if n > 1]}"
    assert sorted(per_id) == sorted(all_ids)
    assert all(worker_claims for worker_claims in claims), "every worker got some of the work"
    # Completed jobs are gone; failed ones used their only attempt and stay, unlocked.
    left = conn.execute(
        "select id, attempts, locked_at, last_error from pgrun.jobs order by id").fetchall()
    assert [r[0] for r in left] == [i for i in sorted(all_ids) if i % 5 == 0]
    assert {(r[1], r[2], r[3]) for r in left} == {(1, None, "boom")}


def test_named_queues_never_run_two_jobs_at_once_under_concurrent_claims(conn, dsn):
    # A second running job in a queue would violate this index at the moment
    # it happened, failing that worker's claim (test-only, not part of pgrun).
    conn.execute("create unique index test_one_running_job_per_queue"
                 " on pgrun._private_jobs (queue_name) where locked_at is not null")
    queued_ids = []
    for q in range(30):
        queued_ids += add_plain_jobs(conn, 50, queue_name=f"queue-{q:02d}")
    all_ids = queued_ids + add_plain_jobs(conn, 1000)

    claims, _ = race(dsn, [
        claiming_worker("single", batch=0, fail_every=3, check_queue_locks=True),
        claiming_worker("batch-1", batch=1, fail_every=3, check_queue_locks=True),
        claiming_worker("batch-4", batch=4, fail_every=3, check_queue_locks=True),
        claiming_worker("batch-10", batch=10, fail_every=3, check_queue_locks=True),
    ])

    per_id = Counter(job_id for worker_claims in claims for job_id in worker_claims)
    assert per_id.most_common(1)[0][1] == 1, f"claimed twice: {[i for i, n in per_id.items() if n > 1]}"
    assert sorted(per_id) == sorted(all_ids)
    # A failed job used its only attempt: it stays, unlocked, and was never claimed again.
    left = conn.execute("select id, attempts, locked_at from pgrun.jobs order by id").fetchall()
    assert [r[0] for r in left] == [i for i in sorted(all_ids) if i % 3 == 0]
    assert {(r[1], r[2]) for r in left} == {(1, None)}
    assert conn.execute("select count(*) from pgrun._private_job_queues"
                        " where locked_at is not null or locked_by is not null").fetchone()[0] == 0


# A queued job is picked from the statement's snapshot and then locked. If
# another session changes it in between, the lock must re-check everything
# that made it claimable (it once re-checked only `locked_at is null`).
STALE_PICK_CHANGES = [
    pytest.param("select pgrun.permanently_fail_jobs(array[%(id)s::bigint])",
                 "attempts <= max_attempts", id="permanently_failed"),
    pytest.param("select pgrun.reschedule_jobs(array[%(id)s::bigint], run_at => now() + interval '1 hour')",
                 "run_at <= now()", id="rescheduled_later"),
    pytest.param("select pgrun.add_job('other-task', queue_name => 'target', job_key => %(key)s)",
                 "task_identifier = 'wanted-task'", id="task_replaced"),
    pytest.param("select pgrun.add_job('wanted-task', queue_name => 'stuck-1', job_key => %(key)s)",
                 "queue_name = 'target'", id="moved_to_a_busy_queue"),
]


@pytest.mark.parametrize(("change_sql", "still_claimable"), STALE_PICK_CHANGES)
def test_a_queued_job_changed_while_a_worker_picks_it_is_not_claimed(conn, dsn, change_sql,
                                                                      still_claimable):
    # 3,000 queues stuck behind a running job make each get_jobs walk them
    # (one index probe per queue): a window of some milliseconds between the
    # statement's snapshot and its row locks, for the change to land in.
    conn.execute(
        "insert into pgrun._private_job_queues (queue_name, locked_at, locked_by)"
        " select 'stuck-' || q, now(), %s from generate_series(1, 3000) q", (worker("stuck"),))
    conn.execute(
        "insert into pgrun._private_jobs (queue_name, task_identifier)"
        " select 'stuck-' || q, 'wanted-task' from generate_series(1, 3000) q")
    conn.execute("analyze pgrun._private_jobs")
    picker_id = worker("picker")

    with connect(dsn) as picker, connect(dsn) as changer:
        picker.execute("select pgrun.get_jobs(%s, array['wanted-task'])", (picker_id,))  # cache plans
        picker_pid = picker.info.backend_pid
        bad_claims = []
        overlapped = 0  # rounds where the change committed while get_jobs was running
        for round_no in range(20):
            key = f"target-{round_no}"
            job_id = conn.execute(
                "select id from pgrun.add_job('wanted-task', queue_name => 'target', job_key => %s,"
                " max_attempts => 1, priority => -1, run_at => now() - interval '1 minute')",
                (key,)).fetchone()[0]
            started = threading.Event()
            result: list = []

            def pick(started: threading.Event = started, result: list = result) -> None:
                started.set()
                result.extend(picker.execute(
                    f"select id, {still_claimable} from pgrun.get_jobs(%s, array['wanted-task'])",
                    (picker_id,)).fetchall())

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
            conn.execute("select pgrun.complete_held_jobs(%s, array(select id from pgrun.jobs"
                         " where locked_by = %s))", (picker_id, picker_id))
            conn.execute("delete from pgrun._private_jobs where queue_name = 'target'")
            if bad_claims:
                break

    assert bad_claims == [], f"claimed after `{change_sql}`: {bad_claims}"
    assert overlapped, "the change never landed while get_jobs ran: this test raced nothing"


def picker_is_running(observer: psycopg.Connection, pid: int) -> bool:
    return observer.execute(
        "select exists (select from pg_stat_activity where pid = %s and state = 'active'"
        " and query like '%%get_jobs%%')", (pid,)).fetchone()[0]


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


def keyed_worker(name: str, fail: bool) -> Session:
    """Claims whatever is there until stopped, failing every other claim when
    `fail`; returns the payloads of the jobs it completed."""
    worker_id = worker(name)

    def session(conn: psycopg.Connection, stop: threading.Event) -> list:
        completed_payloads = []
        n = 0
        while not stop.is_set():
            rows = conn.execute("select id, payload from pgrun.get_jobs(%s, max_jobs => 2)",
                                (worker_id,)).fetchall()
            for job_id, payload in rows:
                n += 1
                if fail and n % 2:
                    conn.execute("select pgrun.fail_job(%s, %s, 'boom')", (worker_id, job_id))
                else:
                    conn.execute("select pgrun.complete_job(%s, %s)", (worker_id, job_id))
                    completed_payloads.append(payload)
        return completed_payloads

    return session


def assert_every_add_answered(results: list[list[tuple]], key: str) -> None:
    for got in results:
        for payload, row in got:
            assert row is not None and row[0] is not None, f"add_job returned a row of nulls for {payload}"
            assert row[1] == key and row[2] == "keyed"


def assert_one_pending_job_holds(conn: psycopg.Connection, key: str) -> None:
    rows = conn.execute(
        "select key, attempts, max_attempts, locked_at from pgrun.jobs"
        " where key = %s or attempts < max_attempts", (key,)).fetchall()
    assert len(rows) == 1, rows
    assert rows[0][0] == key and rows[0][1] == 0 and rows[0][3] is None, rows
    # Every job that gave its key up is finished: unlocked, never to be retried.
    assert conn.execute(
        "select count(*) from pgrun.jobs where key is null"
        " and (locked_at is not null or attempts < max_attempts)").fetchone()[0] == 0


@pytest.mark.parametrize("mode", ["replace", "preserve_run_at"])
def test_add_job_on_one_key_racing_with_claims_always_returns_the_keyed_job(conn, dsn, mode):
    key = "the-key"
    adds, _ = race(
        dsn,
        [keyed_adder("a", key, mode, 250), keyed_adder("b", key, mode, 250)],
        [keyed_worker("completer", fail=False), keyed_worker("failer", fail=True)],
    )
    assert_every_add_answered(adds, key)

    # The workers have stopped; two last calls race each other only.
    last, _ = race(dsn, [keyed_adder("c", key, mode, 1), keyed_adder("d", key, mode, 1)])
    assert_every_add_answered(last, key)
    assert_one_pending_job_holds(conn, key)


def test_batch_job_items_are_each_run_once_while_add_job_races_with_claims(conn, dsn):
    key = "the-batch"
    adds, completed = race(
        dsn,
        [keyed_adder("a", key, "replace", 250, batch=True),
         keyed_adder("b", key, "replace", 250, batch=True)],
        [keyed_worker("w1", fail=False), keyed_worker("w2", fail=False)],
    )
    assert_every_add_answered(adds, key)
    # Whatever is still queued is run by one last worker.
    left = conn.execute(
        "select payload from pgrun.get_jobs(%s, max_jobs => 100)", (worker("last"),)).fetchall()
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
  select row(s.identifier, s.payload, s.queue_name, null, s.max_attempts, s.job_key, null, null)
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


def batch_worker(name: str) -> Session:
    """Claims up to 5 jobs at a time until stopped; completes the even ids and
    fails the odd ones with the batch forms, one call each, as the runner does."""
    worker_id = worker(name)

    def session(conn: psycopg.Connection, stop: threading.Event) -> int:
        claimed = 0
        while not stop.is_set():
            held = ids(conn.execute("select id from pgrun.get_jobs(%s, max_jobs => 5)",
                                    (worker_id,)).fetchall())
            claimed += len(held)
            odd = [job_id for job_id in held if job_id % 2]
            even = [job_id for job_id in held if not job_id % 2]
            conn.execute("select pgrun.fail_held_jobs(%s, %s, %s)", (worker_id, odd, ["boom"] * len(odd)))
            conn.execute("select pgrun.complete_held_jobs(%s, %s)", (worker_id, even))
        return claimed

    return session


def assert_every_spec_answered(answers: list[tuple]) -> None:
    for specs, rows in answers:
        assert len(rows) == len(specs), (specs, rows)
        assert all(row[0] is not None for row in rows), rows
        assert Counter(row[1] for row in rows) == Counter(s["job_key"] for s in specs)


def test_add_jobs_with_keyed_specs_racing_with_claims_answers_every_spec(conn, dsn):
    answers, claimed = race(dsn, [specs_adder(seed=1, rounds=300)],
                            [batch_worker("w1"), batch_worker("w2"), batch_worker("w3")])
    assert all(claimed), "every worker claimed keyed jobs while add_jobs ran"
    assert_every_spec_answered(answers[0])
    # A job that gave its key up is finished: unlocked, never to be retried.
    assert conn.execute(
        "select count(*) from pgrun.jobs where key is null and task_identifier = 'keyed'"
        " and (locked_at is not null or attempts < max_attempts)").fetchone()[0] == 0


# -- deadlocks, set up step by step ---------------------------------------------
#
# Each test below parks sessions on a row lock held by `holder` in an open
# transaction, checks (pg_stat_activity) that each is waiting where intended,
# then lets go, so that the sessions need the same rows at the same time. Two
# sessions that lock rows in the same order cannot deadlock; these scenes
# deadlocked while add_jobs locked keyed rows in spec order, fail_held_jobs in
# the caller's order and release_dead_workers in index order.

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


def claimed_in_heap_order(conn: psycopg.Connection, worker_id: str, count: int) -> list[tuple[int, str]]:
    """Claims `count` jobs for worker_id; returns (id, key) of each in the
    order a sequential or jobs_locked index scan meets them."""
    conn.execute("select pgrun.get_jobs(%s, max_jobs => %s)", (worker_id, count))
    return conn.execute("select id, key from pgrun._private_jobs where locked_by = %s order by ctid",
                        (worker_id,)).fetchall()


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
        conn.execute("select pgrun.add_job('keyed', job_key => %s)", (k,))
    w = worker("w")
    (first, first_key), (second, second_key), (third, _) = claimed_in_heap_order(conn, w, 3)
    with connect(dsn) as holder, connect(dsn) as a, connect(dsn) as b, ThreadPoolExecutor(2) as pool:
        with holder.transaction():
            holder.execute("select from pgrun._private_jobs where id = %s for share", (third,))
            failing = pool.submit(lambda: a.execute(
                "select pgrun.fail_held_jobs(%s, %s, array['x', 'y', 'z'])", (w, [second, third, first])))
            wait_until_waiting_for_lock(holder, a, failing)  # the worker is parked on third
            specs = [{"identifier": "keyed", "payload": {}, "queue_name": None, "max_attempts": 5,
                      "job_key": key} for key in (first_key, second_key)]
            adding = pool.submit(add_jobs, b, specs)
            wait_until_waiting_for_lock(holder, b, adding)  # add_jobs is parked on a row the worker holds
        # In the caller's order the worker would take first after third, while
        # add_jobs (scan order) holds first and waits for second.
        failing.result()
        assert len(adding.result()) == 2


def test_a_worker_failing_its_jobs_while_declared_dead_does_not_deadlock(conn, dsn):
    add_plain_jobs(conn, 3, max_attempts=5)
    w = worker("slow")
    register_silent_worker(conn, w)
    (first, _), (second, _), (third, _) = claimed_in_heap_order(conn, w, 3)
    with connect(dsn) as holder, connect(dsn) as a, connect(dsn) as b, ThreadPoolExecutor(2) as pool:
        with holder.transaction():
            holder.execute("select from pgrun._private_jobs where id = %s for share", (third,))
            failing = pool.submit(lambda: a.execute(
                "select pgrun.fail_held_jobs(%s, %s, array['x', 'y', 'z'])", (w, [second, third, first])))
            wait_until_waiting_for_lock(holder, a, failing)  # the worker is parked on third
            releasing = pool.submit(lambda: b.execute("select * from pgrun.release_dead_workers()"))
            wait_until_waiting_for_lock(holder, b, releasing)  # the release is parked behind the worker
        # In the caller's order the worker would take first after third, while
        # the release (index order) holds first and waits for second.
        failing.result()
        releasing.result()


def wait_until_blocked_by(observer: psycopg.Connection, session: psycopg.Connection,
                          blocker: psycopg.Connection, future: Future) -> None:
    deadline = time.monotonic() + LOCK_WAIT_DEADLINE_S
    while not observer.execute("select %s = any(pg_blocking_pids(%s))",
                               (blocker.info.backend_pid, session.info.backend_pid)).fetchone()[0]:
        if future.done():
            future.result()
            raise SetupError(f"session {session.info.backend_pid} finished without waiting")
        if time.monotonic() > deadline:
            raise SetupError(f"session {session.info.backend_pid} did not wait for "
                             f"{blocker.info.backend_pid}")


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
    specs = [{"identifier": "keyed", "payload": {}, "queue_name": None, "max_attempts": 5, "job_key": key}
             for key in ("k0", "ka", "kb")]
    with connect(dsn) as holder, connect(dsn) as a, ThreadPoolExecutor(1) as pool:
        holder.execute("begin")
        holder.execute("select from pgrun._private_jobs where id = %s for share", (failed,))
        adding = pool.submit(add_jobs, a, specs)
        wait_until_waiting_for_lock(holder, a, adding)  # add_jobs holds 'kb' and 'ka', waits on 'k0'
        claimed = {r[0] for r in conn.execute("select id from pgrun.get_jobs(%s, max_jobs => 3)", (w,))}
        assert claimed == {middle}
        holder.execute("commit")
        rows = adding.result()
    assert len(rows) == 3
    assert {first, last} <= {row[0] for row in rows}


# -- (d) dead workers ----------------------------------------------------------


def register_silent_worker(conn: psycopg.Connection, worker_id: str) -> None:
    """A worker whose last heartbeat was a minute ago."""
    conn.execute("select pgrun.record_heartbeat(%s, now => now() - interval '1 minute')", (worker_id,))


def test_racing_release_dead_workers_and_claims_release_each_job_once(conn, dsn):
    dead = [worker(f"dead-{d}") for d in range(6)]
    live = worker("live")
    for round_no in range(12):
        # Six workers went silent a minute ago holding 2-4 jobs each; two of
        # them also hold a named queue.
        conn.execute("delete from pgrun._private_jobs")
        add_plain_jobs(conn, 40, max_attempts=5)
        for d, worker_id in enumerate(dead):
            register_silent_worker(conn, worker_id)
            if d < 2:
                add_plain_jobs(conn, 3, queue_name=f"dead-queue-{d}", max_attempts=5)
            conn.execute("select pgrun.get_jobs(%s, max_jobs => %s)", (worker_id, 2 + d % 3))
        held = dict(conn.execute("select locked_by, count(*) from pgrun.jobs"
                                 " where locked_by like 'test-worker-dead-%' group by 1").fetchall())
        assert len(held) == len(dead)

        def release(c: psycopg.Connection) -> list[tuple]:
            return c.execute("select * from pgrun.release_dead_workers()").fetchall()

        def claim(c: psycopg.Connection, stop: threading.Event) -> int:
            claimed = 0
            while not stop.is_set():
                got = ids(c.execute("select id from pgrun.get_jobs(%s, max_jobs => 3)", (live,)).fetchall())
                claimed += len(got)
                c.execute("select pgrun.complete_held_jobs(%s, %s)", (live, got))
            return claimed

        released, _ = race(dsn, [release, release], [claim, claim])

        reports = [row for rows in released for row in rows]
        assert sorted(w for w, _ in reports) == sorted(dead), f"round {round_no}: {released}"
        assert dict(reports) == held, f"round {round_no}: released {released}, held {held}"
        # Released once: one heartbeat error each, nothing left with the dead.
        assert conn.execute(
            "select count(*) from pgrun.jobs where locked_by like 'test-worker-dead-%'"
            " or jsonb_array_length(coalesce(errors, '[]')) > 1").fetchone()[0] == 0
        assert conn.execute("select count(*) from pgrun._private_job_queues"
                            " where locked_by like 'test-worker-dead-%'").fetchone()[0] == 0
        assert conn.execute("select count(*) from pgrun._private_workers").fetchone()[0] == 0


def test_a_worker_completing_its_jobs_while_declared_dead_does_not_deadlock(conn, dsn):
    slow = worker("slow")
    for round_no in range(15):
        add_plain_jobs(conn, 30, max_attempts=5)
        register_silent_worker(conn, slow)
        held = ids(conn.execute("select id from pgrun.get_jobs(%s, max_jobs => 30)", (slow,)).fetchall())
        assert len(held) == 30

        def release(c: psycopg.Connection) -> list[tuple]:
            return c.execute("select * from pgrun.release_dead_workers()").fetchall()

        def complete(c: psycopg.Connection, held: list[int] = held) -> list[int]:
            return ids(c.execute("select * from pgrun.complete_held_jobs(%s, %s)", (slow, held)).fetchall())

        (released, completed), _ = race(dsn, [release, complete])
        # Either the worker finished first (its jobs are gone) or the release
        # did (its jobs are back in the queue): never half of each, never an error.
        finished_first = released == [(slow, 0)] and sorted(completed) == sorted(held)
        released_first = released == [(slow, 30)] and completed == []
        assert finished_first or released_first, f"round {round_no}: {released} {completed}"
        conn.execute("delete from pgrun._private_jobs")
