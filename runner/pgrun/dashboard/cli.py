"""`pgrun dashboard [--port P] [--host H] [--token T] [--read-only] [--hide-payloads]
[--crontab FILE]`: serves
the dashboard with uvicorn. Importing this module needs neither Starlette nor uvicorn, so the
command exists (and says what to install) without the `dashboard` extra."""

from __future__ import annotations

import sys

import click

from ..errors import PgrunError
from ..grant_cli import CONNECTION_HELP, EXIT_USAGE, OneLineCommand


@click.command("dashboard", cls=OneLineCommand)
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (0.0.0.0: every interface; set --token then).")
@click.option("--token", envvar="PGRUN_DASHBOARD_TOKEN", show_envvar=True,
              help="Every page asks for this token (a login form, Authorization: Bearer, "
                   "or as the basic-auth password).")
@click.option("--read-only", is_flag=True, help="No action buttons; actions are refused.")
@click.option("--hide-payloads", is_flag=True, help="Do not show payloads and results.")
@click.option("--crontab", type=click.Path(dir_okay=False, exists=True), envvar="PGRUN_CRONTAB",
              show_envvar=True, metavar="FILE", help="List this crontab's items on the cron page.")
@click.option("--connection", "-c", envvar=["PGRUN_CONNECTION", "DATABASE_URL"], show_envvar=True,
              help=CONNECTION_HELP)
@click.option("--schema", "-s", envvar="PGRUN_SCHEMA", show_envvar=True,
              help="Schema pgrun is installed in.  [default: pgrun]")
@click.pass_context
def dashboard(ctx: click.Context, port: int, host: str, token: str | None, read_only: bool,
              hide_payloads: bool, crontab: str | None, connection: str | None, schema: str | None) -> None:
    """Serve the web dashboard (overview, jobs, queues, workers, cron, audit log)."""
    try:
        import uvicorn

        from .app import create_app
    except ModuleNotFoundError as missing:
        click.echo(f"pgrun: the dashboard needs {missing.name}: pip install 'pgrun[dashboard]'", err=True)
        sys.exit(EXIT_USAGE)
    root = ctx.find_root().params
    try:
        app = create_app(connection or root.get("connection") or "", schema or root.get("schema") or "pgrun",
                         token=token, read_only=read_only, hide_payloads=hide_payloads, crontab=crontab)
    except PgrunError as error:  # a bad crontab
        click.echo(f"pgrun: {error}", err=True)
        sys.exit(EXIT_USAGE)
    uvicorn.run(app, host=host, port=port, log_level="info")


__all__ = ["dashboard"]
