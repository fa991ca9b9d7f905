"""run_orders.py as a reader would run it: a paid order completes, a declined one is refunded,
then released, and ends compensated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_the_example_places_two_orders_and_prints_what_became_of_them(dsn):
    env = {**os.environ, "DATABASE_URL": dsn}
    run = subprocess.run([sys.executable, "run_orders.py"], cwd=HERE, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    first = lines.index(next(line for line in lines if line.startswith("order 1:")))
    second = lines.index(next(line for line in lines if line.startswith("order 2:")))
    assert lines[first].endswith(" completed")
    assert lines[first + 1:second] == [
        "  reserve: completed", "  charge: completed", "  notify: completed",
        "  - reserved BOOK-1", "  - charged 1200 cents", "  - notified (charge C1)"]
    assert lines[second].endswith(" compensated (step charge failed)")
    assert lines[second + 1:] == [
        "  reserve: compensated", "  charge: compensated", "  notify: cancelled",
        "  - reserved BOOK-1", "  - refunded (failed charge)", "  - released R2"]
