"""The short chaos run (make test): 20,000 jobs, 4 real worker processes, every fault
kind on a private cluster; nothing lost, nothing stuck, duplicates only of cut
attempts. The long run is `make chaos` (chaos/__main__.py)."""

from __future__ import annotations

import pytest

from chaos.driver import ChaosRun

# every kind once, and a second kill and crash
FAULTS = ["terminate", "sigkill", "exhaust", "restart-fast", "sigterm", "restart-immediate",
          "sigkill", "restart-immediate"]


@pytest.mark.slow
def test_chaos_loses_nothing(capsys):
    summary = ChaosRun(jobs=20_000, faults=FAULTS, seed=12, say=lambda line: None).run()
    with capsys.disabled():
        print("\n" + summary.table())
    assert not summary.unexpected_exits, summary.unexpected_exits
    assert not summary.hung, summary.hung
    assert not summary.over_held, summary.over_held
    assert summary.lost == 0 and summary.stuck == 0
    assert summary.completed == summary.jobs == 20_000
    assert not summary.unexplained, summary.unexplained[:20]
    # a duplicate is a run of an attempt that was cut: at most one per job a killed worker held
    # or a handler whose record committed while its connection was cut
    assert summary.runs == summary.jobs + summary.duplicates
    assert all(code == 0 for code in summary.sigterm_codes), summary.sigterm_codes
    assert all(resume is not None for resume in summary.resume), summary.table()
    assert all(held is not None for fault, held in zip(summary.faults, summary.held_rerun, strict=True)
               if fault.held)
