"""Two real `pgrun` workers share one crontab across two real minute boundaries:
each tick is enqueued once and run once, by one of them."""

from __future__ import annotations

import signal
from datetime import datetime, timedelta, timezone

import pytest

from support import RESULTS_TABLE, Workers, wait_until


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:00.000Z")


@pytest.fixture
def workers(dsn):
    started = Workers(dsn)
    yield started
    started.close()


@pytest.mark.slow
def test_two_workers_sharing_a_crontab_run_each_real_tick_once(workers, conn, tmp_path):
    conn.execute(RESULTS_TABLE)
    crontab = tmp_path / "crontab"
    crontab.write_text("* * * * * cron_probe\n")

    # Both workers must be scheduling before the first boundary: start well clear of one.
    wait_until(lambda: _now().second < 40, timeout=25, interval=0.2, message="a minute's first 40 s")
    now = _now()
    first = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    second = first + timedelta(minutes=1)
    # Known from now on, so whichever worker registers it first, both expect `first` next.
    conn.execute("select pgrun.cron_register(array['cron_probe'], %s)", (now,))

    started = [workers.start("--tasks", "tasks.cron_probe", "--crontab", str(crontab))
               for _ in range(2)]
    for worker in started:
        worker.wait_for_line("cron: scheduling 1 item(s): cron_probe")
    assert _now() < first, "a worker took too long to start; the test needs both before the boundary"

    def runs() -> list[tuple[str, int, int]]:
        """(tick, runs, distinct jobs) for every tick that ran."""
        return [tuple(r) for r in conn.execute(
            "select note, count(*), count(distinct job_id) from pgrun_test_results"
            " where task = 'cron_probe' group by note order by note").fetchall()]

    wait_until(lambda: len(runs()) >= 2, timeout=(second - _now()).total_seconds() + 30, interval=0.2,
               message="both ticks to run")
    # Both schedulers wake just after each boundary; give the loser of the second
    # tick ample time to have tried (and been refused) before stopping them.
    wait_until(lambda: _now() >= second + timedelta(seconds=10), timeout=75, interval=0.2,
               message="10 s past the second boundary")
    wait_until(lambda: conn.execute("select count(*) = 0 from pgrun.jobs").fetchone()[0],
               timeout=15, message="no job left in the queue")
    for worker in started:
        worker.signal(signal.SIGTERM)
    assert [worker.wait() for worker in started] == [0, 0]

    assert runs()[:2] == [(_iso(first), 1, 1), (_iso(second), 1, 1)]
    assert all(count == 1 for _, count, _ in runs())
    last_execution = conn.execute(
        "select last_execution from pgrun._private_known_crontabs where item_id = 'cron_probe'").fetchone()[0]
    assert last_execution >= second
    for worker in started:
        assert "Traceback" not in worker.output, worker.output
