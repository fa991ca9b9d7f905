"""Two OS processes run the same crontab against one database across two real
minute boundaries: each tick is enqueued exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.mark.slow
def test_two_processes_enqueue_each_real_tick_once(dsn, conn, tmp_path):
    crontab = tmp_path / "crontab"
    crontab.write_text("* * * * * every_minute\n"
                       "* * * * * every_minute ?id=every_minute_copy {\"copy\": true}\n")

    # Too close to a boundary, and a process might start after it: wait it out.
    if datetime.now(timezone.utc).second >= 55:
        time.sleep(61 - datetime.now(timezone.utc).second)
    now = datetime.now(timezone.utc)
    first = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    second = first + timedelta(minutes=1)
    # Known from now on, so both processes expect exactly `first` and `second`
    # whichever of them registers first.
    conn.execute("select pgrun.cron_register(array['every_minute', 'every_minute_copy'], %s)", (now,))

    deadline = (second + timedelta(seconds=5)).timestamp()
    command = [sys.executable, str(HERE / "cron_instance.py"), dsn, str(crontab), str(deadline)]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=200) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs

    rows = conn.execute(
        "select task_identifier, payload->'_cron'->>'ts', (payload->'_cron'->>'backfilled')::boolean,"
        " payload::jsonb ? 'copy' from pgrun.jobs order by 2, 4").fetchall()
    ticks = [first.strftime("%Y-%m-%dT%H:%M:00.000Z"), second.strftime("%Y-%m-%dT%H:%M:00.000Z")]
    assert rows == [("every_minute", tick, False, copy) for tick in ticks for copy in (False, True)]

    # Both processes dealt with both ticks of both items; one of them won each.
    reports = [json.loads(line) for out, _ in outputs for line in out.splitlines()]
    for item in ("every_minute", "every_minute_copy"):
        for tick in (first, second):
            attempts = [r for r in reports if r["item"] == item and r["tick"] == tick.isoformat()]
            assert len(attempts) == 2, reports
            assert sum(r["job_id"] is not None for r in attempts) == 1, attempts
