"""Retry policies: how long a failed job waits before its next attempt.

    @task("emails.send", retry=pgrun.exponential(base=2, max_delay=600, jitter=0.2,
                                                  never_retry=(InvalidAddress,)))
    utils.add_job("reports.build", {...}, retry=pgrun.linear(30, max_delay=300))   # this job only

- exponential(base=1): base × e^min(attempt, 10) seconds; base 1 is Graphile Worker's
  exp(least(attempts, 10)), the default of a task without a policy
- linear(step): step × attempt seconds
- fixed(seconds): the same wait every time
- custom(fn): fn(attempt, error) seconds, decided by the worker (a Python callable)

then at most `max_delay` seconds, then up to `jitter` (a fraction) of it earlier, at random.
`attempt` counts the attempt that just failed (1 after the first failure). An error that is an
instance of a `never_retry` type fails the job for good, like PermanentFailure.

The first three are decided in SQL (retry_delay, 0168_retry_policies.sql): a task's policy is a
row the worker writes at start (set_retry_policy), a job's is its meta.retry, so a runner in any
language retries the same way. `delay()` computes the same in Python (for custom policies, and
to say what a policy does).
"""

from __future__ import annotations

import math
import random as _random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

KINDS = ("exponential", "linear", "fixed", "custom")


@dataclass(frozen=True)
class RetryPolicy:
    kind: str
    base: float = 1.0                  # seconds: exponential's factor, linear's step, fixed's wait
    max_delay: float | None = None     # seconds; None: no cap
    jitter: float = 0.0                # up to this fraction earlier, at random
    never_retry: tuple[type[BaseException], ...] = ()
    function: Callable[[int, BaseException | None], float] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"a retry policy kind is one of {', '.join(KINDS)} (got {self.kind!r})")
        if self.kind == "custom" and not callable(self.function):
            raise TypeError("a custom retry policy takes a function(attempt, error) -> seconds")
        _check_seconds("base", self.base, allow_none=False)
        _check_seconds("max_delay", self.max_delay, allow_none=True)
        if isinstance(self.jitter, bool) or not isinstance(self.jitter, (int, float)) \
                or not 0 <= self.jitter <= 1:
            raise ValueError(f"retry jitter is a fraction between 0 and 1 (got {self.jitter!r})")
        never = self.never_retry
        if not isinstance(never, tuple) or not all(isinstance(t, type) and issubclass(t, BaseException)
                                                   for t in never):
            raise TypeError(f"never_retry is a tuple of exception types (got {never!r})")

    @property
    def in_sql(self) -> bool:
        """Whether the database decides this policy's delays (every kind but custom)."""
        return self.kind != "custom"

    def delay(self, attempt: int, error: BaseException | None = None,
              random: Callable[[], float] = _random.random) -> float:
        """Seconds to wait after failed attempt `attempt` (1, 2, ...); `random` gives the jitter's
        draw in [0, 1) (inject a seeded one to test)."""
        if attempt < 1:
            raise ValueError(f"attempt counts from 1 (got {attempt})")
        if self.kind == "exponential":
            seconds = self.base * math.exp(min(attempt, 10))
        elif self.kind == "linear":
            seconds = self.base * attempt
        elif self.kind == "fixed":
            seconds = self.base
        else:
            seconds = float(self.function(attempt, error))  # type: ignore[misc]
            if not seconds >= 0 or math.isinf(seconds):
                raise ValueError(f"the custom retry policy returned {seconds!r}; it must give seconds >= 0")
        if self.max_delay is not None:
            seconds = min(seconds, self.max_delay)
        return seconds * (1 - self.jitter * random()) if self.jitter else seconds

    def retries(self, error: BaseException) -> bool:
        return not (self.never_retry and isinstance(error, self.never_retry))

    def as_json(self) -> dict[str, Any]:
        """The policy as SQL reads it (a job's meta.retry)."""
        if not self.in_sql:
            raise ValueError("a custom retry policy is a Python function: give it to @task(retry=...), "
                             "where the worker decides the delay; a job's own policy is stored in SQL")
        if self.never_retry:
            raise ValueError("never_retry names Python exception types: give it to @task(retry=...)")
        return {"kind": self.kind, "base": self.base, "max_delay": self.max_delay, "jitter": self.jitter}


def exponential(base: float = 1.0, *, max_delay: float | None = None, jitter: float = 0.0,
                never_retry: tuple[type[BaseException], ...] = ()) -> RetryPolicy:
    """base × e^min(attempt, 10) seconds (base 1: Graphile Worker's backoff)."""
    return RetryPolicy("exponential", base, max_delay, jitter, never_retry)


def linear(step: float, *, max_delay: float | None = None, jitter: float = 0.0,
           never_retry: tuple[type[BaseException], ...] = ()) -> RetryPolicy:
    """step × attempt seconds."""
    return RetryPolicy("linear", step, max_delay, jitter, never_retry)


def fixed(seconds: float, *, max_delay: float | None = None, jitter: float = 0.0,
          never_retry: tuple[type[BaseException], ...] = ()) -> RetryPolicy:
    """The same wait after every failure."""
    return RetryPolicy("fixed", seconds, max_delay, jitter, never_retry)


def custom(function: Callable[[int, BaseException | None], float], *, max_delay: float | None = None,
           jitter: float = 0.0, never_retry: tuple[type[BaseException], ...] = ()) -> RetryPolicy:
    """function(attempt, error) seconds, decided by the worker that ran the attempt."""
    return RetryPolicy("custom", 1.0, max_delay, jitter, never_retry, function)


def check_policy(policy: Any, where: str) -> RetryPolicy | None:
    if policy is not None and not isinstance(policy, RetryPolicy):
        raise TypeError(f"{where} takes a pgrun retry policy (pgrun.exponential, linear, fixed, custom), "
                        f"got {type(policy).__name__}")
    return policy


def _check_seconds(name: str, value: Any, *, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"retry {name} is a number of seconds above 0 (got {value!r})")


async def write_task_policies(pool, queries, tasks) -> None:
    """Writes the SQL-decided retry policies of these tasks (TaskDefs) as their rows, so that any
    runner retries their jobs the same way (set_retry_policy changes a row only if it differs)."""
    rows = [(t.identifier, t.retry.kind, t.retry.base, t.retry.max_delay, t.retry.jitter)
            for t in tasks.values() if t.retry is not None and t.retry.in_sql]
    if rows:
        async with pool.connection() as conn:
            for row in rows:
                await conn.execute(queries.set_retry_policy, row)
