"""Installs and upgrades the pgrun schema.

Safe to run from many processes at once: the work happens in one transaction
behind an advisory lock, and whoever comes second finds it done.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from . import sql_files
from .errors import MigrationError, SchemaTooNew

# Advisory lock namespace (any constant; "pgrn" in ASCII) combined with the schema.
LOCK_NAMESPACE = 0x7067726E


@dataclass(frozen=True)
class MigrationResult:
    schema: str
    previous_version: int
    version: int
    functions_replaced: bool


def installed_state(conn: psycopg.Connection, schema: str) -> tuple[int, str | None]:
    """(schema version, functions digest); (0, None) where nothing is installed."""
    row = conn.execute(
        "select to_regclass(format('%%I._private_migrations', %s::text)) is not null",
        (schema,),
    ).fetchone()
    if not row or not row[0]:
        return 0, None
    version, digest = conn.execute(
        sql.SQL(
            "select coalesce(max(id), 0), "
            "(select value from {}._private_settings where name = 'functions_digest') "
            "from {}._private_migrations"
        ).format(sql.Identifier(schema), sql.Identifier(schema))
    ).fetchone()
    return version, digest


def migrate(conn: psycopg.Connection, schema: str = "pgrun") -> MigrationResult:
    """Brings `schema` up to date on an open connection (autocommit or not)."""
    sql_files.check_schema_name(schema)
    migrations = sql_files.load_migrations()
    functions = sql_files.load_functions()
    digest = sql_files.functions_digest(functions)
    latest = migrations[-1].number if migrations else 0

    version, installed_digest = installed_state(conn, schema)
    _refuse_newer(schema, version, latest)
    if version == latest and installed_digest == digest:
        return MigrationResult(schema, version, version, False)

    with conn.transaction():
        conn.execute(
            "select pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_NAMESPACE, schema)
        )
        ident = sql.Identifier(schema)
        conn.execute(sql.SQL("create schema if not exists {}").format(ident))
        conn.execute(
            sql.SQL(
                "create table if not exists {}._private_migrations ("
                " id integer primary key,"
                " name text not null,"
                " applied_at timestamptz not null default now())"
            ).format(ident)
        )
        conn.execute(
            sql.SQL(
                "create table if not exists {}._private_settings ("
                " name text primary key, value text not null)"
            ).format(ident)
        )
        version, installed_digest = installed_state(conn, schema)
        _refuse_newer(schema, version, latest)
        previous = version
        for migration in migrations[version:]:
            try:
                conn.execute(sql_files.render(migration.sql, schema))
            except psycopg.Error as error:
                raise MigrationError(
                    f"migration {migration.name} failed in schema {schema}: {error}"
                ) from error
            conn.execute(
                sql.SQL("insert into {}._private_migrations (id, name) values (%s, %s)").format(ident),
                (migration.number, migration.name),
            )
        replaced = installed_digest != digest or previous != latest
        if replaced:
            for name, body in functions:
                try:
                    conn.execute(sql_files.render(body, schema))
                except psycopg.Error as error:
                    raise MigrationError(f"function file {name} failed: {error}") from error
            conn.execute(
                sql.SQL(
                    "insert into {}._private_settings (name, value) values ('functions_digest', %s)"
                    " on conflict (name) do update set value = excluded.value"
                ).format(ident),
                (digest,),
            )
    return MigrationResult(schema, previous, latest, replaced)


def _refuse_newer(schema: str, version: int, latest: int) -> None:
    if version > latest:
        raise SchemaTooNew(
            f"schema {schema} is at version {version} but this pgrun knows versions up to "
            f"{latest}; upgrade pgrun (pip install -U pgrun) instead of running old code on it"
        )


def migration_script(schema: str = "pgrun") -> str:
    """The whole install as one SQL script, for teams that ship migrations themselves."""
    parts = [
        "begin;",
        f"select pg_advisory_xact_lock({LOCK_NAMESPACE}, hashtext('{schema}'));",
        f'create schema if not exists "{schema}";',
        f'create table if not exists "{schema}"._private_migrations ('
        "id integer primary key, name text not null, applied_at timestamptz not null default now());",
        f'create table if not exists "{schema}"._private_settings ('
        "name text primary key, value text not null);",
    ]
    for migration in sql_files.load_migrations():
        parts.append(f"-- migration {migration.name}")
        parts.append(sql_files.render(migration.sql, schema))
        parts.append(
            f'insert into "{schema}"._private_migrations (id, name) values '
            f"({migration.number}, '{migration.name}');"
        )
    functions = sql_files.load_functions()
    for name, body in functions:
        parts.append(f"-- functions {name}")
        parts.append(sql_files.render(body, schema))
    parts.append(
        f'insert into "{schema}"._private_settings (name, value) values '
        f"('functions_digest', '{sql_files.functions_digest(functions)}') "
        "on conflict (name) do update set value = excluded.value;"
    )
    parts.append("commit;")
    return "\n".join(parts) + "\n"
