"""A real failover: a primary and its streaming standby (two private clusters,
pg_basebackup -R), synchronous so that a commit is on both; workers connected with
`host=a,b port=p1,p2 target_session_attrs=read-write`. The primary crashes while
jobs run, the standby is promoted, and the workers find it by themselves: every job
added before the crash and after it completes, none twice but for cut attempts."""

from __future__ import annotations

import time

import pytest

from chaos.cluster import PrivateCluster
from chaos.driver import ChaosRun


def _synchronous(primary: PrivateCluster) -> None:
    """Commits on the primary wait for the standby (set after the base backup, so that the
    promoted standby does not wait for a standby of its own)."""
    with primary.connect() as conn:
        conn.execute("alter system set synchronous_standby_names = '*'")
        conn.execute("select pg_reload_conf()")
        deadline = time.monotonic() + 30
        sync = "select count(*) from pg_stat_replication where sync_state = 'sync'"
        while conn.execute(sync).fetchone()[0] == 0:
            assert time.monotonic() < deadline, "the standby did not become synchronous"
            time.sleep(0.05)


@pytest.mark.slow
def test_workers_follow_a_failover_to_the_promoted_standby(capsys):
    with PrivateCluster() as primary:
        standby = primary.standby()
        _synchronous(primary)
        run = ChaosRun(jobs=6_000, jobs_after=2_000, faults=["failover"], cluster=primary, standby=standby,
                       say=lambda line: None)
        summary = run.run()
    with capsys.disabled():
        print("\n" + summary.table())
    assert not summary.unexpected_exits and not summary.hung, (summary.unexpected_exits, summary.hung)
    assert summary.completed == summary.jobs == 8_000
    assert summary.lost == 0 and summary.stuck == 0
    assert not summary.unexplained, summary.unexplained[:20]
    assert summary.resume[0] is not None
    assert all(code == 0 for code in summary.sigterm_codes), summary.sigterm_codes
