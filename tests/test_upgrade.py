"""Upgrading a live schema-1 database to schema 2 (issue 8): a database made by the
released pgrun 0.1.0 (tests/fixtures) with jobs in every schema-1 state, upgraded
by the new code while old workers run. Every job ends in its right state, the old
workers stop by themselves, and the upgraded database works with the schema-2
worker API. Real PostgreSQL, real old worker processes."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg
import pytest

from pgrun.migrate import migrate
from support import latest_version, wait_until
from upgrade_support import (
    OLD_WHEEL,
    TESTS_DIR,
    OldWorker,
    database_snapshot,
    old_python,
    run_old,
    unpack_old_pgrun,
)

FIXTURE_WORKER = "fixture-worker-0001"      # claims and fails jobs while the fixture is built
DEAD_WORKER = "fixture-dead-worker-1"       # a schema-1 worker that died holding a job
NEW_WORKER = "upgrade-schema2-worker"
INTERRUPTED = "worker shutting down; job interrupted"  # schema 1's JobInterrupted message
UPGRADED = "schema was upgraded"                        # in schema 2's PGR03 message

PAYLOADS = {
    "available": {"n": 1, "nested": {"list": [1, 2.5, "x", None, True]}, "text": "ünïcødé ✓ \"quoted\""},
    "available_queued_1": {"n": 2, "big": 12345678901234567890, "empty": {}},
    "available_queued_2": {"n": 3, "list": []},
    "scheduled": {"n": 4, "when": "2030-01-01T00:00:00Z"},
    "scheduled_queued": {"n": 5},
    "keyed": {"n": 6, "key": "upgrade-key-1"},
    "flagged": {"n": 7},
    "retryable": {"n": 8},
    "retry_due": {"n": 9},
    "failed": {"n": 10, "deep": {"a": {"b": {"c": [1, {"d": "e"}]}}}},
    "busy_waiting": {"n": 11},
    "orphan": {"n": 12},
}

# What the upgrade makes of each job (the held ones: 'running' until their workers react).
EXPECTED_STATES = {
    "available": "available",
    "available_queued_1": "available",
    "available_queued_2": "available",
    "scheduled": "scheduled",
    "scheduled_queued": "scheduled",
    "keyed": "available",
    "flagged": "available",
    "retryable": "retryable",
    "retry_due": "available",
    "failed": "failed",
    "busy_waiting": "available",
    "orphan": "running",
    "hold_a1": "running",
    "hold_a2": "running",
    "hold_b": "running",
    "hold_c": "running",
}
HELD = ("hold_a1", "hold_a2", "hold_b", "hold_c")

ADD_JOB = ("select id from pgrun.add_job(%(task)s, %(payload)s::json, queue_name => %(queue)s, "
           "run_at => now() + %(run_in)s::interval, max_attempts => %(max_attempts)s::int, "
           "job_key => %(key)s, priority => %(priority)s::int, flags => %(flags)s::text[])")

JOB_COLUMNS = ("id, task_identifier, queue_name, payload::text, priority, run_at, attempts, max_attempts, "
               "last_error, key, locked_by, locked_at, flags, errors, created_at, updated_at")
PROBE_LOG = ("create table upgrade_probe_log (id bigserial primary key, job_id bigint, task text, "
             "attempt int, worker_pid int, note text, at timestamptz default clock_timestamp())")


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def old_pgrun(tmp_path_factory):
    """The released schema-1 pgrun, unpacked; its processes import it, not the new code."""
    root = unpack_old_pgrun(tmp_path_factory.mktemp("pgrun-0.1.0"))
    where = old_python(root, "", "import pgrun; print(pgrun.__file__); print(pgrun.__version__)").split()
    assert where == [str(root / "pgrun" / "__init__.py"), "0.1.0"], where
    return root


@pytest.fixture
def old_workers(empty_dsn, old_pgrun):
    """Starts old workers on this test's database; kills what is left at the end."""
    started: list[OldWorker] = []

    def start(tasks: str, concurrency: int, *options: str) -> OldWorker:
        worker = OldWorker(old_pgrun, empty_dsn, ["--tasks", "tasks.upgrade_probe",
                                                  "--concurrency", str(concurrency), *options],
                           env={"UPGRADE_PROBE_TASKS": tasks})
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


# ---------------------------------------------------------------- helpers

def install_schema_1(old_root, dsn: str) -> None:
    done = run_old(old_root, dsn, "migrate", "--connection", dsn)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "migrated from version 0 to 2" in done.stdout, done.stdout  # the old code: it knows 2


def add_job(conn, task: str, payload: dict | None = None, *, queue: str | None = None,
            run_in: str | None = None, max_attempts: int | None = None, key: str | None = None,
            priority: int | None = None, flags: list[str] | None = None) -> int:
    """Schema 1's add_job (the old function body, installed by the old code)."""
    return conn.execute(ADD_JOB, {
        "task": task, "payload": None if payload is None else json.dumps(payload), "queue": queue,
        "run_in": run_in, "max_attempts": max_attempts, "key": key, "priority": priority, "flags": flags,
    }).fetchone()[0]


def claim_and_fail(conn, job_id: int, task: str, message: str) -> None:
    """One failed attempt through schema 1's own claim and fail (a minute ahead, so that a
    retry's backoff has passed; far less than the 4-hour lock expiry)."""
    claimed = conn.execute("select id from pgrun.get_jobs(%s, array[%s], now => now() + interval '1 minute', "
                           "max_jobs => 1)", (FIXTURE_WORKER, task)).fetchall()
    assert claimed == [(job_id,)]
    failed = conn.execute("select id from pgrun.fail_held_jobs(%s, array[%s]::bigint[], array[%s])",
                          (FIXTURE_WORKER, job_id, message)).fetchall()
    assert failed == [(job_id,)]


def reschedule(conn, job_id: int, run_in: str) -> None:
    conn.execute("select id from pgrun.reschedule_jobs(array[%s]::bigint[], run_at => now() + %s::interval)",
                 (job_id, run_in))


def make_schema_1_jobs(conn, release_dir) -> dict[str, int]:
    """Jobs in every schema-1 state but 'held by a running worker' (the old workers do that).
    Returns their ids by name."""
    ids: dict[str, int] = {}
    # failed attempts first: the fixture's claims run a minute ahead
    ids["retryable"] = add_job(conn, "upgrade.retry", PAYLOADS["retryable"], max_attempts=5)
    claim_and_fail(conn, ids["retryable"], "upgrade.retry", "boom: retryable, attempt 1")
    reschedule(conn, ids["retryable"], "1 hour")
    ids["retry_due"] = add_job(conn, "upgrade.retry_due", PAYLOADS["retry_due"], max_attempts=5)
    claim_and_fail(conn, ids["retry_due"], "upgrade.retry_due", "boom: due again, attempt 1")
    reschedule(conn, ids["retry_due"], "-1 minute")
    ids["failed"] = add_job(conn, "upgrade.dead", PAYLOADS["failed"], max_attempts=2)
    claim_and_fail(conn, ids["failed"], "upgrade.dead", "boom: permanent, attempt 1")
    claim_and_fail(conn, ids["failed"], "upgrade.dead", "boom: permanent, attempt 2")

    ids["available"] = add_job(conn, "upgrade.other", PAYLOADS["available"])
    ids["available_queued_1"] = add_job(conn, "upgrade.other", PAYLOADS["available_queued_1"],
                                        queue="q-ready")
    ids["available_queued_2"] = add_job(conn, "upgrade.other", PAYLOADS["available_queued_2"],
                                        queue="q-ready", priority=1)
    ids["scheduled"] = add_job(conn, "upgrade.other", PAYLOADS["scheduled"], run_in="1 hour")
    ids["scheduled_queued"] = add_job(conn, "upgrade.other", PAYLOADS["scheduled_queued"], queue="q-later",
                                      run_in="1 hour")
    ids["keyed"] = add_job(conn, "upgrade.other", PAYLOADS["keyed"], key="upgrade-key-1")
    ids["flagged"] = add_job(conn, "upgrade.other", PAYLOADS["flagged"], flags=["gpu", "slow"])
    ids["busy_waiting"] = add_job(conn, "upgrade.other", PAYLOADS["busy_waiting"], queue="q-busy")

    # a schema-1 worker that beat, claimed and died (its last beat is recent: no old
    # worker presumes it dead before the upgrade)
    ids["orphan"] = add_job(conn, "upgrade.orphan", PAYLOADS["orphan"])
    conn.execute("select pgrun.record_heartbeat(%s, now => now() + interval '5 minutes')", (DEAD_WORKER,))
    assert conn.execute("select id from pgrun.get_jobs(%s, array['upgrade.orphan'], max_jobs => 1)",
                        (DEAD_WORKER,)).fetchall() == [(ids["orphan"],)]

    # for the old workers: A holds two (one in q-busy), B and C one each
    for name, task, queue in [("hold_a1", "upgrade.hold_a", None), ("hold_a2", "upgrade.hold_a", "q-busy"),
                              ("hold_b", "upgrade.hold_b", None), ("hold_c", "upgrade.hold_c", None)]:
        ids[name] = add_job(conn, task, {"release": str(release_dir / name)}, queue=queue)
    return ids


def jobs_by_id(conn) -> dict[int, dict]:
    cursor = conn.execute(f"select {JOB_COLUMNS} from pgrun._private_jobs order by id")
    names = [c.name for c in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def states(conn) -> dict[int, str]:
    return dict(conn.execute("select id, state from pgrun._private_jobs").fetchall())


def probe_log(conn, note: str) -> set[int]:
    return {r[0] for r in conn.execute("select job_id from upgrade_probe_log where note = %s", (note,))}


# ---------------------------------------------------------------- the upgrade under old workers

def test_live_schema_1_database_upgrades_and_its_old_workers_stop(
        empty_dsn, old_pgrun, old_workers, tmp_path):
    started_at = time.monotonic()
    dsn = empty_dsn
    install_schema_1(old_pgrun, dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(PROBE_LOG)
        ids = make_schema_1_jobs(conn, tmp_path)
        name_of = {v: k for k, v in ids.items()}

        # Three old workers hold the 'hold' jobs; none has the tasks of the other jobs.
        # A: two jobs, one in q-busy (its queue then locked), every slot busy: it learns of
        #    the upgrade at its next heartbeat.
        # B and C: one job each, which the test ends after the upgrade: they write its
        #    completion, claim again and learn it from the claim; B without prepared
        #    statements (as behind PgBouncer), C with them (the default).
        worker_a = old_workers("upgrade.hold_a", 2)
        worker_b = old_workers("upgrade.hold_b", 1, "--no-prepared-statements")
        worker_c = old_workers("upgrade.hold_c", 1)
        old = {"a": worker_a, "b": worker_b, "c": worker_c}
        for worker in old.values():
            line = worker.wait_for_line("upgrade_probe: pgrun imported from", timeout=20)
            assert line.endswith(str(old_pgrun / "pgrun" / "__init__.py")), line  # the old code runs
            worker.wait_for_line(" ready: ", timeout=20)
        wait_until(lambda: probe_log(conn, "started") == {ids[n] for n in HELD},
                   timeout=15, message="the old workers to start the hold jobs")

        before = jobs_by_id(conn)
        assert set(before) == set(ids.values())
        assert all(before[ids[n]]["locked_by"] is not None for n in (*HELD, "orphan"))
        assert conn.execute("select locked_by is not null from pgrun._private_job_queues "
                            "where queue_name = 'q-busy'").fetchone() == (True,)
        old_worker_ids = {before[ids[n]]["locked_by"] for n in HELD}
        assert len(old_worker_ids) == 3

        # A call an old worker has in flight while the migration runs executes its schema-1
        # body on the schema-2 tables and fails with another error (see the next test). Here
        # the upgrade comes between beats, as it nearly always does: every old worker beat
        # less than 3 s ago and beats every 5 s.
        wait_until(lambda: conn.execute("select bool_and(now() - last_heartbeat_at < interval '3 seconds') "
                                        "from pgrun._private_workers where worker_id = any(%s)",
                                        (list(old_worker_ids),)).fetchone()[0],
                   timeout=15, message="a moment between the old workers' heartbeats")

    # ---- the upgrade, by the new code, while the old workers run. It is checked inside its
    # own transaction, so that what it made is seen before the old workers can react.
    with psycopg.connect(dsn) as upgrade:
        result = migrate(upgrade, "pgrun")
        assert (result.previous_version, result.version, result.functions_replaced) == (
            2, latest_version(), True)

        after = jobs_by_id(upgrade)
        assert set(after) == set(before), "the upgrade lost or made jobs"
        got = {name_of[i]: s for i, s in states(upgrade).items()}
        assert got == EXPECTED_STATES

        for job_id, old_row in before.items():
            new = after[job_id]
            name = name_of[job_id]
            # payload: now jsonb, the same JSON value
            expected_payload = PAYLOADS.get(name) or {"release": str(tmp_path / name)}
            assert json.loads(old_row["payload"]) == json.loads(new["payload"]) == expected_payload, name
            # everything else of the job as it was
            for column in ("task_identifier", "queue_name", "priority", "run_at", "attempts", "max_attempts",
                           "last_error", "key", "locked_by", "locked_at", "flags", "errors", "created_at"):
                assert new[column] == old_row[column], (name, column)
        assert upgrade.execute(
            "select data_type from information_schema.columns where table_schema = 'pgrun' "
            "and table_name = '_private_jobs' and column_name = 'payload'").fetchone() == ("jsonb",)
        assert upgrade.execute("select distinct pg_typeof(payload)::text from pgrun.jobs").fetchall() \
            == [("jsonb",)]

        # the error history of failed attempts is kept; final jobs got finished_at
        failed = after[ids["failed"]]
        assert [e["error"] for e in failed["errors"]] \
            == ["boom: permanent, attempt 1", "boom: permanent, attempt 2"]
        assert [e["attempt"] for e in failed["errors"]] == [1, 2]
        assert failed["last_error"] == "boom: permanent, attempt 2"
        assert [e["error"] for e in after[ids["retryable"]]["errors"]] == ["boom: retryable, attempt 1"]
        assert [e["error"] for e in after[ids["retry_due"]]["errors"]] == ["boom: due again, attempt 1"]
        assert after[ids["keyed"]]["key"] == "upgrade-key-1"
        assert after[ids["flagged"]]["flags"] == {"gpu": True, "slow": True}
        finished = dict(upgrade.execute(
            "select id, finished_at = updated_at from pgrun._private_jobs where finished_at is not null"))
        assert finished == {ids["failed"]: True}

        # queues: counters of running jobs; only a queue with room and an available job is listed
        queues = {r[0]: r[1:] for r in upgrade.execute(
            "select queue_name, running, max_running, paused from pgrun._private_job_queues")}
        assert queues == {"q-busy": (1, 1, False), "q-ready": (0, 1, False), "q-later": (0, 1, False)}
        assert upgrade.execute("select queue_name, job_id from pgrun._private_queue_heads").fetchall() \
            == [("q-ready", ids["available_queued_1"])]
        # every worker row is schema 1's, to be told to stop
        workers = dict(upgrade.execute("select worker_id, protocol from pgrun._private_workers").fetchall())
        assert workers == {DEAD_WORKER: 1, **{w: 1 for w in old_worker_ids}}
        # running jobs carry a lease, so schema 1's outcome calls can still end them
        assert upgrade.execute("select count(*) from pgrun._private_jobs "
                               "where state = 'running' and lease is null").fetchone() == (0,)
        upgrade.commit()

    # ---- the old workers react and stop by themselves
    (tmp_path / "hold_b").touch()
    (tmp_path / "hold_c").touch()
    codes = {key: worker.wait(timeout=20) for key, worker in old.items()}
    for key, worker in old.items():
        assert codes[key] != 0, worker.output
        assert "crashed; stopping the worker" in worker.output, worker.output
    # the heartbeat (A) and the unprepared claim (B) get schema 2's PGR03, which says why
    for worker in (worker_a, worker_b):
        assert UPGRADED in worker.output, worker.output
    assert "pgrun heartbeat crashed" in worker_a.output and "pgrun fetcher crashed" in worker_b.output
    # (C's prepared claim fails before get_jobs runs: the result type of its statement
    # changed with the payload's type. It stops all the same.)
    assert "pgrun fetcher crashed" in worker_c.output, worker_c.output
    for key in ("b", "c"):
        line = f"job {ids['hold_' + key]} (upgrade.hold_{key}) completed on attempt 1/25"
        assert line in old[key].output, old[key].output

    with psycopg.connect(dsn, autocommit=True) as conn:
        after_stop = jobs_by_id(conn)
        got = {name_of[i]: s for i, s in states(conn).items()}
        # B's and C's jobs completed (and left the table, as completed jobs do by default)
        assert "hold_b" not in got and "hold_c" not in got
        assert probe_log(conn, "finished") == {ids["hold_b"], ids["hold_c"]}
        # A's jobs were failed as interrupted (an attempt counted, retried later)
        for name in ("hold_a1", "hold_a2"):
            job = after_stop[ids[name]]
            assert got[name] == "retryable", (name, job)
            assert job["last_error"] == INTERRUPTED and job["attempts"] == 1 and job["locked_by"] is None
            assert [e["error"] for e in job["errors"]] == [INTERRUPTED]
        # nothing of the old workers is left running; only the dead worker's job is
        assert [name for name, s in got.items() if s == "running"] == ["orphan"]
        assert {n: s for n, s in got.items() if n not in HELD} \
            == {n: s for n, s in EXPECTED_STATES.items() if n not in HELD}
        # q-busy has room again and an available job: it is listed
        assert conn.execute("select running from pgrun._private_job_queues where queue_name = 'q-busy'"
                            ).fetchone() == (0,)
        assert {r[0] for r in conn.execute("select queue_name from pgrun._private_queue_heads")} \
            == {"q-ready", "q-busy"}
        # the old workers left the workers table; the dead one's row waits for reaping
        assert dict(conn.execute("select worker_id, protocol from pgrun._private_workers").fetchall()) \
            == {DEAD_WORKER: 1}

        finish_with_schema_2_api(conn, ids, after_stop)
    assert time.monotonic() - started_at < 60


def finish_with_schema_2_api(conn, ids: dict[str, int], before: dict[int, dict]) -> None:
    """Runs every remaining job to its end through the schema-2 worker API, two hours
    ahead (so scheduled and retrying jobs are due): register, beat, reap the dead
    schema-1 worker, claim, complete."""
    name_of = {v: k for k, v in ids.items()}
    t0 = conn.execute("select now() + interval '2 hours'").fetchone()[0]
    conn.execute("select pgrun.register_worker(%s, now => %s)", (NEW_WORKER, t0))

    # a keyed job is still one job under its key: adding it again replaces it
    replaced = conn.execute("select id, payload from pgrun.add_job('upgrade.other', '{\"n\": 66}'::json, "
                            "job_key => 'upgrade-key-1')").fetchone()
    assert replaced == (ids["keyed"], {"n": 66})

    # beats every 5 s: after a full lease timeout of them, the dead worker is reaped
    reaped = []
    for k in range(1, 5):
        reaped += conn.execute("select dead_worker_id, released_jobs from pgrun.heartbeat(%s, now => %s)",
                               (NEW_WORKER, t0 + timedelta(seconds=5 * k))).fetchall()
    now = t0 + timedelta(seconds=20)
    assert reaped == [(DEAD_WORKER, 1)]
    orphan = conn.execute("select state, attempts, last_error from pgrun._private_jobs where id = %s",
                          (ids["orphan"],)).fetchone()
    assert orphan[:2] == ("available", 1) and "stopped sending heartbeats" in orphan[2], orphan

    def claim_all(forbidden_flags):
        """Claims and completes until nothing is left to claim; {job id: its attempt}."""
        claimed: dict[int, int] = {}
        for _ in range(10):
            rows = conn.execute("select id, attempts, lease, queue_name from pgrun.claim_jobs(%s, 50, "
                                "forbidden_flags => %s::text[], now => %s) where id is not null",
                                (NEW_WORKER, forbidden_flags, now)).fetchall()
            if not rows:
                return claimed
            queued = [r[3] for r in rows if r[3] is not None]
            assert len(queued) == len(set(queued)), rows  # queues of max_running 1: one job each
            outcomes = conn.execute("select job_id, outcome from pgrun.complete_attempts(%s, %s::bigint[], "
                                    "%s::bigint[])", (NEW_WORKER, [r[0] for r in rows],
                                                      [r[2] for r in rows])).fetchall()
            assert sorted(outcomes) == sorted((r[0], "completed") for r in rows)
            claimed.update({r[0]: r[1] for r in rows})
        raise AssertionError("claims did not drain the queue")

    first = claim_all(["gpu"])
    expected = {n for n in EXPECTED_STATES if n not in ("hold_b", "hold_c", "failed", "flagged")}
    assert {name_of[i] for i in first} == expected
    for job_id, attempts in first.items():  # one more attempt each
        assert attempts == before[job_id]["attempts"] + 1, name_of[job_id]
    second = claim_all(None)
    assert {name_of[i] for i in second} == {"flagged"}

    # all that is left: the permanently failed job; queues count nothing running
    assert dict(conn.execute("select id, state from pgrun._private_jobs").fetchall()) \
        == {ids["failed"]: "failed"}
    assert conn.execute("select sum(running) from pgrun._private_job_queues").fetchone() == (0,)
    conn.execute("select pgrun.unregister_worker(%s)", (NEW_WORKER,))


def blocked_statements(conn) -> list[str]:
    """What other sessions of this database are running while they wait for a lock."""
    return [r[0] for r in conn.execute(
        "select query from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() "
        "and wait_event_type = 'Lock'")]


def test_old_worker_calls_in_flight_during_the_upgrade_stop_it_and_lose_nothing(
        empty_dsn, old_pgrun, old_workers, tmp_path):
    """The old worker's heartbeat, a completion and a claim wait on the migration's locks
    and then run their schema-1 bodies on schema-2 tables: each fails (not with PGR03, but
    never doing anything). The worker stops all the same, the completion is not lost and
    no job is left running or runs twice."""
    dsn = empty_dsn
    install_schema_1(old_pgrun, dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(PROBE_LOG)
        done_id = add_job(conn, "upgrade.hold_a", {"release": str(tmp_path / "done")})
        cut_id = add_job(conn, "upgrade.hold_a", {"release": str(tmp_path / "cut")}, queue="q-busy")
        waiting_id = add_job(conn, "upgrade.other", {"n": 1}, queue="q-busy")
        worker = old_workers("upgrade.hold_a", 2)
        worker.wait_for_line(" ready: ", timeout=20)
        wait_until(lambda: probe_log(conn, "started") == {done_id, cut_id}, timeout=15,
                   message="the old worker to start both jobs")

        with psycopg.connect(dsn) as upgrade:
            result = migrate(upgrade, "pgrun")  # not committed yet: its locks are held
            assert (result.previous_version, result.version) == (2, latest_version())
            (tmp_path / "done").touch()  # the job ends: its completion, then a claim, wait
            calls = {"heartbeat(", "complete_held_jobs(", "get_jobs("}
            wait_until(lambda: {c for c in calls if any(c in b for b in blocked_statements(conn))} == calls,
                       timeout=15, message="its beat, completion and claim to wait on the upgrade")
            upgrade.commit()

        code = worker.wait(timeout=20)
        assert code != 0, worker.output
        assert "crashed; stopping the worker" in worker.output, worker.output
        # the completion, retried at shutdown through schema 2's complete_held_jobs, counted once
        assert f"job {done_id} (upgrade.hold_a) completed on attempt 1/25" in worker.output, worker.output
        assert probe_log(conn, "finished") == {done_id}
        rows = {r[0]: r[1:] for r in conn.execute(
            "select id, state, attempts, last_error, locked_by from pgrun._private_jobs")}
        assert rows == {cut_id: ("retryable", 1, INTERRUPTED, None), waiting_id: ("available", 0, None, None)}
        assert conn.execute("select running from pgrun._private_job_queues where queue_name = 'q-busy'"
                            ).fetchone() == (0,)
        assert [r[0] for r in conn.execute("select queue_name from pgrun._private_queue_heads")] == ["q-busy"]
        assert conn.execute("select count(*) from pgrun._private_workers").fetchone() == (0,)


# ---------------------------------------------------------------- idempotence, concurrency

def make_small_schema_1_database(old_root, dsn: str) -> dict[str, int]:
    install_schema_1(old_root, dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        ids = {
            "available": add_job(conn, "upgrade.other", PAYLOADS["available"], queue="q-ready"),
            "scheduled": add_job(conn, "upgrade.other", PAYLOADS["scheduled"], run_in="1 hour", key="k-1"),
            "failed": add_job(conn, "upgrade.dead", PAYLOADS["failed"], max_attempts=1),
        }
        claim_and_fail(conn, ids["failed"], "upgrade.dead", "boom")
        ids["running"] = add_job(conn, "upgrade.orphan", PAYLOADS["orphan"], queue="q-busy")
        conn.execute("select pgrun.record_heartbeat(%s)", (DEAD_WORKER,))
        conn.execute("select id from pgrun.get_jobs(%s, array['upgrade.orphan'], max_jobs => 1)",
                     (DEAD_WORKER,))
    return ids


def test_upgrading_twice_changes_nothing(empty_dsn, old_pgrun):
    ids = make_small_schema_1_database(old_pgrun, empty_dsn)
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        first = migrate(conn, "pgrun")
        snapshot = database_snapshot(conn)
        second = migrate(conn, "pgrun")
        assert database_snapshot(conn) == snapshot
        latest = latest_version()
        assert (first.previous_version, first.version, first.functions_replaced) == (2, latest, True)
        assert (second.previous_version, second.version, second.functions_replaced) == (latest, latest, False)
        assert states(conn) == {ids["available"]: "available", ids["scheduled"]: "scheduled",
                                ids["failed"]: "failed", ids["running"]: "running"}
        # and an old pgrun refuses the upgraded database
        done = run_old(old_pgrun, empty_dsn, "migrate", "--connection", empty_dsn)
        assert done.returncode != 0 and f"version {latest}" in done.stderr, done.stdout + done.stderr
        assert database_snapshot(conn) == snapshot


def test_ten_concurrent_upgrades_upgrade_once(empty_dsn, old_pgrun):
    ids = make_small_schema_1_database(old_pgrun, empty_dsn)
    barrier = threading.Barrier(10)

    def upgrade(_):
        with psycopg.connect(empty_dsn, autocommit=True) as conn:
            barrier.wait(timeout=30)
            return migrate(conn, "pgrun")

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(upgrade, range(10)))

    latest = latest_version()
    assert sorted((r.previous_version, r.version, r.functions_replaced) for r in results) \
        == [(2, latest, True)] + [(latest, latest, False)] * 9
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        assert [r[0] for r in conn.execute("select id from pgrun._private_migrations order by id")] \
            == list(range(1, latest + 1))
        assert states(conn) == {ids["available"]: "available", ids["scheduled"]: "scheduled",
                                ids["failed"]: "failed", ids["running"]: "running"}
        assert conn.execute("select running from pgrun._private_job_queues where queue_name = 'q-busy'"
                            ).fetchone() == (1,)


def test_fixture_is_the_schema_1_release():
    """The wheel is what its README says (so nobody swaps in a later build by mistake)."""
    digest = hashlib.sha256(OLD_WHEEL.read_bytes()).hexdigest()
    readme = (TESTS_DIR / "fixtures" / "README.md").read_text()
    assert digest in readme
    with zipfile.ZipFile(OLD_WHEEL) as wheel:
        names = set(wheel.namelist())
    assert "pgrun/sql/migrations/0002_cron.sql" in names
    assert not any(n.startswith("pgrun/sql/migrations/0003") for n in names)
