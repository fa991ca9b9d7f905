"""pgrun: a PostgreSQL job queue for Python, with its rules in PL/pgSQL."""

from .errors import PgrunError, SchemaTooNew
from .migrate import migrate

__version__ = "0.1.0"

__all__ = ["PgrunError", "SchemaTooNew", "migrate", "__version__"]
