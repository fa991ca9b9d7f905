"""The `pgrun` command."""

from __future__ import annotations

import sys

import click

from . import db
from .migrate import migrate as apply_migrations
from .migrate import migration_script
from .errors import PgrunError, SchemaTooNew

EXIT_SCHEMA_TOO_NEW = 57


def _fail(error: PgrunError) -> None:
    click.echo(f"pgrun: {error}", err=True)
    sys.exit(EXIT_SCHEMA_TOO_NEW if isinstance(error, SchemaTooNew) else 1)


@click.group(context_settings={"auto_envvar_prefix": "PGRUN", "show_default": True})
def main() -> None:
    """pgrun: a PostgreSQL job queue for Python."""


@main.command()
@click.option("--connection", "-c", envvar="DATABASE_URL", show_envvar=True,
              help="PostgreSQL URL; else DATABASE_URL, else libpq's PG* variables.")
@click.option("--schema", "-s", default="pgrun", show_envvar=True, help="Schema to install into.")
@click.option("--print", "print_sql", is_flag=True,
              help="Print the SQL of a fresh install instead of applying it.")
def migrate(connection: str | None, schema: str, print_sql: bool) -> None:
    """Install or upgrade the pgrun schema."""
    try:
        if print_sql:
            click.echo(migration_script(schema), nl=False)
            return
        conninfo = db.resolve_conninfo(connection)
        with db.connect(conninfo) as conn:
            result = apply_migrations(conn, schema)
    except PgrunError as error:
        _fail(error)
        return
    if result.previous_version == result.version and not result.functions_replaced:
        click.echo(f"schema {schema} is up to date (version {result.version})")
    else:
        click.echo(f"schema {schema} migrated from version {result.previous_version} to {result.version}")


if __name__ == "__main__":
    main()
