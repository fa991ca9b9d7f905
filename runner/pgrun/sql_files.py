"""Finds pgrun's SQL (migrations and functions) and renders it for one schema.

The SQL ships inside the wheel as ``pgrun/sql``; in a source checkout it is
the repository's top-level ``sql/`` folder.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import ConfigurationError, MigrationError

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,49}$")


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    sql: str


def sql_root() -> Path:
    packaged = resources.files("pgrun") / "sql"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "sql"
    if checkout.is_dir():
        return checkout
    raise MigrationError("pgrun's SQL files are missing from this installation")


def load_migrations(root: Path | None = None) -> list[Migration]:
    """Migrations in order; refuses gaps, duplicates and badly named files."""
    folder = (root or sql_root()) / "migrations"
    migrations = []
    for path in sorted(folder.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name} is not named NNNN_name.sql")
        migrations.append(Migration(int(match.group(1)), path.stem, path.read_text()))
    for expected, migration in enumerate(migrations, start=1):
        if migration.number != expected:
            raise MigrationError(
                f"migrations must be numbered 0001, 0002, ... without gaps; "
                f"found {migration.name} where {expected:04d} was expected"
            )
    return migrations


def load_functions(root: Path | None = None) -> list[tuple[str, str]]:
    """(file name, sql) of every function file, in load order."""
    folder = (root or sql_root()) / "functions"
    return [(path.name, path.read_text()) for path in sorted(folder.glob("*.sql"))]


def functions_digest(functions: list[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for name, sql in functions:
        digest.update(name.encode() + b"\0" + sql.encode() + b"\0")
    return digest.hexdigest()


def check_schema_name(schema: str) -> str:
    if not SCHEMA_NAME.match(schema):
        raise ConfigurationError(
            f"schema name {schema!r} is not allowed: use letters, digits and underscores, "
            "starting with a letter or underscore, at most 50 characters"
        )
    return schema


def render(sql: str, schema: str) -> str:
    """Puts the schema into SQL written with the @schema@ / @schema_text@ tokens."""
    check_schema_name(schema)
    return sql.replace("@schema@", f'"{schema}"').replace("@schema_text@", schema)


def notify_channel(schema: str) -> str:
    return f"{schema}:jobs"
