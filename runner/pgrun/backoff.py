"""Retry delays for the runner's loops."""

from __future__ import annotations

import random


class Backoff:
    """first, 2 × first, 4 × first ... up to `limit`, each with ±20 % jitter."""

    def __init__(self, first: float = 0.25, limit: float = 10.0) -> None:
        self.first, self.limit, self.delay = first, limit, first

    def next(self) -> float:
        delay = self.delay
        self.delay = min(self.delay * 2, self.limit)
        return delay * random.uniform(0.8, 1.2)

    def reset(self) -> None:
        self.delay = self.first
