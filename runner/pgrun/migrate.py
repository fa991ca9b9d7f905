"""Installs and upgrades the pgrun schema.

Safe to run from many processes at once: the work happens in one transaction
behind an advisory lock, and whoever comes second finds it done.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg
from psycopg import sql

from . import sql_files
from .errors import MigrationError, SchemaTooNew
from .version import __version__, version_tuple

# Advisory lock namespace (any constant; "pgrn" in ASCII) combined with the schema.
LOCK_NAMESPACE = 0x7067726E


@dataclass(frozen=True)
class MigrationResult:
    schema: str
    previous_version: int
    version: int
    functions_replaced: bool


@dataclass(frozen=True)
class InstalledState:
    version: int = 0                      # the last migration applied; 0: nothing installed
    functions_digest: str | None = None   # of the function files installed
    functions_version: str | None = None  # the pgrun that installed them


def installed_state(conn: psycopg.Connection, schema: str) -> InstalledState:
    row = conn.execute(
        "select to_regclass(format('%%I._private_migrations', %s::text)) is not null",
        (schema,),
    ).fetchone()
    if not row or not row[0]:
        return InstalledState()
    version, digest, functions_version = conn.execute(
        sql.SQL(
            "select coalesce(max(id), 0), "
            "(select value from {s}._private_settings where name = 'functions_digest'), "
            "(select value from {s}._private_settings where name = 'functions_version') "
            "from {s}._private_migrations"
        ).format(s=sql.Identifier(schema))
    ).fetchone()
    return InstalledState(version, digest, functions_version)


def migrate(conn: psycopg.Connection, schema: str = "pgrun") -> MigrationResult:
    """Brings `schema` up to date on an open connection (autocommit or not)."""
    sql_files.check_schema_name(schema)
    migrations = sql_files.load_migrations()
    functions = sql_files.load_functions()
    digest = sql_files.functions_digest(functions)
    latest = migrations[-1].number if migrations else 0

    state = installed_state(conn, schema)
    _refuse_newer(schema, state, latest, digest)
    if state.version == latest and state.functions_digest == digest:
        return MigrationResult(schema, state.version, state.version, False)

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
        state = installed_state(conn, schema)
        _refuse_newer(schema, state, latest, digest)
        previous = state.version
        for migration in migrations[state.version:]:
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
        replaced = state.functions_digest != digest or previous != latest
        if replaced:
            for name, body in functions:
                _install_function_file(conn, schema, name, body)
            conn.execute(
                sql.SQL(
                    "insert into {}._private_settings (name, value)"
                    " values ('functions_digest', %s), ('functions_version', %s)"
                    " on conflict (name) do update set value = excluded.value"
                ).format(ident),
                (digest, __version__),
            )
            # PUBLIC gets nothing; roles granted through pgrun get new functions too
            conn.execute(sql.SQL("select {}._secure()").format(ident))
    return MigrationResult(schema, previous, latest, replaced)


# CREATE OR REPLACE cannot change what a function returns. Public functions
# keep their signatures (a migration drops one when it must change); private
# ones (a leading underscore) may change between releases, so the installer
# drops and re-creates those. Their rights come back from _secure().
_PRIVATE_FUNCTION = re.compile(r"create or replace function @schema@\.(_[a-z0-9_]+)\(")


def _install_function_file(conn: psycopg.Connection, schema: str, name: str, body: str) -> None:
    rendered = sql_files.render(body, schema)
    try:
        with conn.transaction():  # a savepoint: a failure here can be retried
            conn.execute(rendered)
        return
    except psycopg.errors.InvalidFunctionDefinition:
        private = sorted(set(_PRIVATE_FUNCTION.findall(body)))
        if not private:
            raise MigrationError(f"function file {name} failed: a public function's result changed; "
                                 "a migration must drop it first") from None
    except psycopg.Error as error:
        raise MigrationError(f"function file {name} failed: {error}") from error
    try:
        for function in conn.execute(
                "select p.oid::regprocedure::text from pg_proc as p "
                "join pg_namespace as n on n.oid = p.pronamespace "
                "where n.nspname = %s and p.proname = any(%s)", (schema, private)).fetchall():
            conn.execute(sql.SQL("drop function {}").format(sql.SQL(function[0])))
        conn.execute(rendered)
    except psycopg.Error as error:
        raise MigrationError(f"function file {name} failed: {error}") from error


def _refuse_newer(schema: str, state: InstalledState, latest: int, digest: str) -> None:
    if state.version > latest:
        raise SchemaTooNew(
            f"schema {schema} is at version {state.version} but this pgrun knows versions up to "
            f"{latest}; upgrade pgrun (pip install -U pgrun) instead of running old code on it"
        )
    # A release may change functions without a migration: never put older bodies back.
    if (state.functions_digest != digest and state.functions_version is not None
            and version_tuple(state.functions_version) > version_tuple(__version__)):
        raise SchemaTooNew(
            f"the functions in schema {schema} were installed by pgrun {state.functions_version}, "
            f"newer than this pgrun {__version__}; upgrade pgrun instead of running old code on it"
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
        f"('functions_digest', '{sql_files.functions_digest(functions)}'), "
        f"('functions_version', '{__version__}') "
        "on conflict (name) do update set value = excluded.value;"
    )
    parts.append(f'select "{schema}"._secure();')
    parts.append("commit;")
    return "\n".join(parts) + "\n"
