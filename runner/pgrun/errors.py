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
