"""Errors pgrun raises. Each docstring is also the default message."""

from __future__ import annotations


class PgrunError(Exception):
    """pgrun failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class SchemaTooNew(PgrunError):
    """The database schema is newer than this version of pgrun; upgrade pgrun."""


class MigrationError(PgrunError):
    """The pgrun schema could not be installed."""


class ConfigurationError(PgrunError):
    """pgrun is not configured correctly."""


class ConnectionFailed(PgrunError):
    """Could not connect to PostgreSQL."""


class TaskModuleError(PgrunError):
    """The task module could not be loaded."""


class CrontabError(PgrunError):
    """The crontab is not valid."""

    def __init__(self, message: str | None = None,
                 problems: tuple[tuple[str, int | None, str], ...] = ()) -> None:
        # problems: (source, line number or None, what is wrong), one per bad line
        self.problems = tuple(problems)
        if message is None and self.problems:
            lines = [_locate(*problem) for problem in self.problems]
            if len(lines) == 1:
                message = lines[0]
            else:
                message = f"{len(lines)} problems in the crontab:\n  " + "\n  ".join(lines)
        super().__init__(message)


def _locate(source: str, line: int | None, reason: str) -> str:
    return f"{source}:{line}: {reason}" if line is not None else f"{source}: {reason}"


class JobInterrupted(PgrunError):
    """worker shutting down; job interrupted"""


class JobStopped(PgrunError):
    """the worker stopped this attempt"""


class WorkerRestartRequired(PgrunError):
    """the worker stopped to be restarted; start a new one"""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"the worker stopped to be restarted ({reason}); start a new one")


class Snooze(Exception):
    """Raised by a handler: run this job again `seconds` from now, without using up an attempt.

        raise pgrun.Snooze(60)   # the partner's API is rate limiting us
    """

    def __init__(self, seconds: float) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
            raise ValueError(f"Snooze takes a number of seconds, 0 or more (got {seconds!r})")
        self.seconds = float(seconds)
        super().__init__(f"snoozed for {seconds:g} s")

    def __reduce__(self):  # pickled from an isolated handler's process
        return type(self), (self.seconds,)


class RateLimited(Snooze):
    """Raised by a handler that met a provider's limit: no job subject to `key` (a limit key or a
    queue) starts for `retry_after` seconds, on any worker, and this job runs again then without
    using up an attempt.

        raise pgrun.RateLimited("hubspot", retry_after=30)   # the API answered 429
    """

    def __init__(self, key: str, retry_after: float) -> None:
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.endswith("*"):
            raise ValueError(f"RateLimited takes a key of 1 to 128 characters, not a pattern (got {key!r})")
        super().__init__(retry_after)
        self.key = key
        self.args = (f"rate limited on {key}: retry after {self.seconds:g} s",)

    def __reduce__(self):  # pickled from an isolated handler's process
        return type(self), (self.key, self.seconds)


class PermanentFailure(Exception):
    """Raised by a handler: this job failed for good; no retry, whatever attempts are left."""


class MemoryLimitExceeded(PgrunError):
    """the job exceeded its memory limit"""


class HandlerProcessDied(PgrunError):
    """the handler's process ended without answering"""


class IsolatedHandlerError(PgrunError):
    """the handler failed in its process with an error that cannot be sent back as it is"""
