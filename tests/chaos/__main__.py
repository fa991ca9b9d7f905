"""`python -m chaos` (from tests/): the long chaos run, `make chaos`. Exit status 1 if
anything was lost, stuck or run twice without a cut."""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from .driver import ChaosRun, fault_plan
from .faults import KINDS


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--faults", type=int, default=40, help="how many faults, spread over the run")
    parser.add_argument("--only", nargs="*", choices=sorted(KINDS), help="draw faults from these kinds only")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--log-dir", type=Path, default=None, help="write each worker's output there")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    plan = [rng.choice(args.only) for _ in range(args.faults)] if args.only else fault_plan(args.faults, rng)
    print(f"seed {seed}")
    summary = ChaosRun(jobs=args.jobs, faults=plan, workers=args.workers, concurrency=args.concurrency,
                       seed=seed, log_dir=args.log_dir).run()
    print(summary.table())
    for line in summary.unexplained[:20]:
        print("unexplained:", line)
    for tail in summary.unexpected_exits:
        print("worker died on its own:", tail)
    for worker_id, count in summary.over_held.items():
        print(f"worker {worker_id} held {count} running jobs")
    for tail in summary.hung:
        print("worker SIGTERM did not stop:", tail)
    bad = (summary.lost or summary.stuck or summary.unexplained or summary.unexpected_exits or summary.hung
           or summary.over_held)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
