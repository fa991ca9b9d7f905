"""The `pgrun cron` commands. `cron` is a click group; the main CLI adds it
with `main.add_command(cron)`."""

from __future__ import annotations

import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import click

from .. import db
from ..errors import PgrunError
from .listing import CronListRow, cron_list
from .parse import parse_crontab_file


@click.group("cron")
def cron() -> None:
    """Inspect the cron items of a crontab."""


@cron.command("list")
@click.option("--crontab", "crontab_file", required=True, envvar="PGRUN_CRONTAB", show_envvar=True,
              type=click.Path(dir_okay=False), help="The crontab file to read.")
@click.option("--connection", "-c", envvar=["PGRUN_CONNECTION", "DATABASE_URL"], show_envvar=True,
              help="PostgreSQL URL; else DATABASE_URL, else libpq's PG* variables.")
@click.option("--schema", "-s", envvar="PGRUN_SCHEMA", show_envvar=True,
              help="Schema pgrun is installed in.  [default: pgrun]")
@click.option("--utc", is_flag=True, help="Show times in UTC instead of each item's time zone.")
@click.pass_context
def list_command(ctx: click.Context, crontab_file: str, connection: str | None, schema: str | None,
                 utc: bool) -> None:
    """Show each cron item, its next run and its last execution."""
    # `pgrun --connection URL cron list` gives them to the top-level command
    top = ctx.find_root().params
    connection = connection if connection is not None else top.get("connection")
    schema = schema or top.get("schema") or "pgrun"
    try:
        items = parse_crontab_file(crontab_file)
        rows = cron_list(db.resolve_conninfo(connection), schema, items)
    except PgrunError as error:
        click.echo(f"pgrun: {error}", err=True)
        sys.exit(1)
    click.echo(format_rows(rows, utc=utc), nl=False)


def format_rows(rows: list[CronListRow], utc: bool = False) -> str:
    """A plain-text table, one line per item."""
    header = ("ID", "TASK", "SCHEDULE", "TZ", "NEXT RUN", "LAST EXECUTION")
    table = [header]
    for row in rows:
        shown_tz = "UTC" if utc else row.tz
        if row.last_execution is not None:
            last = _when(row.last_execution, shown_tz)
        else:
            last = "never" if row.known else "never (not registered yet)"
        table.append((row.id, row.task, row.schedule, row.tz, _when(row.next_run, shown_tz), last))
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() + "\n"
        for line in table)


def _when(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %z")
