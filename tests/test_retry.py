"""Retry policies: each policy's delays (Python and SQL agree), jitter bounds with a seeded
generator, the worker writing task policies, custom delays decided in Python, per-job
policies and exception types that never retry."""

from __future__ import annotations

import random

import pytest

import pgrun
from pgrun import custom, exponential, fixed, linear, task
from pgrun.retry import RetryPolicy

POLICIES = [exponential(), exponential(0.5, max_delay=600), linear(30, max_delay=100), fixed(45),
            fixed(100, jitter=0.2), linear(10, jitter=1.0)]


def test_each_policy_gives_its_delays():
    assert [round(exponential().delay(n), 3) for n in (1, 2, 3, 10, 11)] == [2.718, 7.389, 20.086, 22026.466,
                                                                            22026.466]
    assert [linear(30).delay(n) for n in (1, 2, 5)] == [30, 60, 150]
    assert [fixed(45).delay(n) for n in (1, 9)] == [45, 45]
    assert linear(30, max_delay=100).delay(10) == 100
    assert custom(lambda attempt, error: attempt * 7).delay(3) == 21


def test_jitter_stays_within_its_fraction_below_the_wait():
    draws = random.Random(1234)
    delays = [fixed(100, jitter=0.25).delay(1, random=draws.random) for _ in range(2000)]
    assert all(75 < d <= 100 for d in delays)
    assert min(delays) < 76 and max(delays) > 99   # the draws cover the range
    capped = [linear(60, max_delay=90, jitter=0.5).delay(5, random=draws.random) for _ in range(500)]
    assert all(45 < d <= 90 for d in capped)


def test_python_and_sql_compute_the_same_delays(conn):  # (an interval keeps microseconds)
    for policy in POLICIES:
        for attempt in (1, 2, 3, 7, 12):
            for draw in (0.0, 0.3, 0.99):
                (sql,) = conn.execute(
                    "select extract(epoch from pgrun.retry_delay(%s, %s, %s, %s, %s, %s))::float8",
                    (policy.kind, attempt, policy.base, policy.max_delay, policy.jitter, draw)).fetchone()
                assert sql == pytest.approx(policy.delay(attempt, random=lambda d=draw: d), abs=1e-6), \
                    (policy, attempt, draw)


def test_bad_policies_are_refused_when_made():
    with pytest.raises(ValueError, match="retry base is a number of seconds above 0"):
        linear(0)
    with pytest.raises(ValueError, match="retry jitter is a fraction between 0 and 1"):
        fixed(1, jitter=2)
    with pytest.raises(TypeError, match="never_retry is a tuple of exception types"):
        fixed(1, never_retry=(ValueError, "KeyError"))
    with pytest.raises(TypeError, match="takes a pgrun retry policy"):
        task("t", retry=30)
    with pytest.raises(ValueError, match="a custom retry policy is a Python function"):
        custom(lambda a, e: 1).as_json()
    assert RetryPolicy("fixed", 2).in_sql and not custom(lambda a, e: 1).in_sql


class Unfixable(Exception):
    pass


@task("linear.fails", retry=linear(30, max_delay=600))
def linear_fails(payload, helpers):
    raise RuntimeError("try later")


@task("custom.fails", retry=custom(lambda attempt, error: 100 + attempt if isinstance(error, OSError) else 5))
def custom_fails(payload, helpers):
    raise OSError("disk busy")


@task("picky.fails", retry=exponential(never_retry=(Unfixable, KeyError)))
def picky_fails(payload, helpers):
    if payload["kind"] == "unfixable":
        raise Unfixable("the input can never work")
    raise ValueError("maybe next time")


@task("plain.fails")
def plain_fails(payload, helpers):
    raise RuntimeError("no policy")


TASKS = {t.__pgrun_task__: t for t in (linear_fails, custom_fails, picky_fails, plain_fails)}


def _wait_and_state(conn, job_id):
    """The job's state and its wait before the retry, in seconds, by the database's clock (run_at
    was in the past, so the retry is due at the failure's time plus the wait)."""
    return conn.execute("select state, extract(epoch from run_at - updated_at)::float8 from pgrun.jobs "
                        "where id = %s", (job_id,)).fetchone()


def test_a_worker_writes_its_tasks_policies_and_sql_decides_their_delays(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        job = utils.add_job("linear.fails", {})
    pgrun.run_once(TASKS, connection=dsn)
    assert conn.execute("select task_identifier, kind, base, max_delay, jitter from "
                        "pgrun._private_retry_policies order by 1").fetchall() == [
        ("linear.fails", "linear", 30, 600, 0), ("picky.fails", "exponential", 1, None, 0)]   # not custom
    state, wait = _wait_and_state(conn, job.id)
    assert state == "retryable" and wait == pytest.approx(30, abs=1e-3)


def test_a_custom_policy_is_decided_by_the_worker(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        job = utils.add_job("custom.fails", {})
    pgrun.run_once(TASKS, connection=dsn)
    state, wait = _wait_and_state(conn, job.id)
    assert state == "retryable" and wait == pytest.approx(101, abs=1e-3)   # attempt 1, an OSError
    assert conn.execute("select count(*) from pgrun._private_retry_policies "
                        "where task_identifier = 'custom.fails'").fetchone()[0] == 0


def test_an_error_of_a_never_retry_type_fails_the_job_for_good(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        unfixable = utils.add_job("picky.fails", {"kind": "unfixable"}, max_attempts=10)
        flaky = utils.add_job("picky.fails", {"kind": "flaky"}, max_attempts=10)
    stats = pgrun.run_once(TASKS, connection=dsn)
    assert stats.permanently_failed == 1
    assert _wait_and_state(conn, unfixable.id)[0] == "failed"
    state, wait = _wait_and_state(conn, flaky.id)
    assert state == "retryable" and wait == pytest.approx(2.718, abs=1e-2)


def test_a_jobs_own_policy_wins_over_its_tasks(dsn, conn):
    with pgrun.WorkerUtils(dsn) as utils:
        own = utils.add_job("linear.fails", {}, retry=fixed(7))
        default = utils.add_job("plain.fails", {})
        with pytest.raises(ValueError, match="custom retry policy is a Python function"):
            utils.add_job("plain.fails", {}, retry=custom(lambda a, e: 1))
    assert own.meta == {"retry": {"kind": "fixed", "base": 7, "max_delay": None, "jitter": 0.0}}
    pgrun.run_once(TASKS, connection=dsn)
    assert _wait_and_state(conn, own.id)[1] == pytest.approx(7, abs=1e-3)
    assert _wait_and_state(conn, default.id)[1] == pytest.approx(2.718, abs=1e-2)   # Graphile's e^1
