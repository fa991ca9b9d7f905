"""The `pgrun` command: `pgrun --tasks mymodule` runs a worker; `pgrun migrate` installs."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

import click

from . import __version__, db
from .errors import ConfigurationError, PgrunError, SchemaTooNew, WorkerRestartRequired
from .logs import FORMATS, LEVELS, setup_logging
from .migrate import migrate as apply_migrations
from .migrate import migration_script

EXIT_SCHEMA_TOO_NEW = 57
EXIT_USAGE = 2

log = logging.getLogger("pgrun.cli")

CONNECTION_HELP = "PostgreSQL URL or conninfo; else DATABASE_URL, else libpq's PG* variables."


def _fail(error: PgrunError) -> None:
    click.echo(f"pgrun: {error}", err=True)
    sys.exit(EXIT_SCHEMA_TOO_NEW if isinstance(error, SchemaTooNew) else 1)


@click.group(invoke_without_command=True,
             context_settings={"auto_envvar_prefix": "PGRUN", "show_default": True,
                               "help_option_names": ["-h", "--help"]})
@click.option("--tasks", "-t", "tasks_module", envvar="PGRUN_TASKS", show_envvar=True, metavar="MODULE",
              help="The module with your tasks (an import name, or a path to a .py file); "
                   "imported from the current directory or PYTHONPATH.")
@click.option("--connection", "-c", envvar=["PGRUN_CONNECTION", "DATABASE_URL"], show_envvar=True,
              help=CONNECTION_HELP)
@click.option("--schema", "-s", default="pgrun", envvar="PGRUN_SCHEMA", show_envvar=True,
              help="Schema pgrun is installed in (the worker installs or upgrades it on start).")
@click.option("--concurrency", "-j", type=click.IntRange(min=1), default=10, envvar="PGRUN_CONCURRENCY",
              show_envvar=True, help="Jobs run at the same time.")
@click.option("--poll-interval", type=click.FloatRange(min=0, min_open=True), default=2.0,
              envvar="PGRUN_POLL_INTERVAL", show_envvar=True, metavar="SECONDS",
              help="How often to look for jobs while the LISTEN connection is down. While it works, "
                   "jobs due now arrive as notifications and every claim that comes back short says "
                   "when the next job is due (in database time), so the worker polls only every "
                   "max(SECONDS, 60 s), as a safety net.")
@click.option("--once", is_flag=True, envvar="PGRUN_ONCE", show_envvar=True,
              help="Run until no job is runnable, then exit.")
@click.option("--crontab", type=click.Path(dir_okay=False), envvar="PGRUN_CRONTAB", show_envvar=True,
              metavar="FILE", help="Also enqueue the recurring jobs of this crontab.")
@click.option("--no-prepared-statements", is_flag=True, envvar="PGRUN_NO_PREPARED_STATEMENTS",
              show_envvar=True, help="Do not prepare statements (for PgBouncer in transaction mode).")
@click.option("--listen-connection", envvar="PGRUN_LISTEN_CONNECTION", show_envvar=True, metavar="URL",
              help="Where the LISTEN connection goes, if not to --connection: PostgreSQL itself, "
                   "when --connection is PgBouncer in transaction mode.")
@click.option("--log-level", type=click.Choice(LEVELS, case_sensitive=False), default="info",
              envvar="PGRUN_LOG_LEVEL", show_envvar=True, help="Least severe log lines to show.")
@click.option("--log-format", type=click.Choice(FORMATS, case_sensitive=False), default="text",
              envvar="PGRUN_LOG_FORMAT", show_envvar=True,
              help="text lines, or one JSON object a line with the job's id, task, attempt, worker and "
                   "correlation id on every line of a job.")
@click.option("--shutdown-timeout", type=click.FloatRange(min=0), default=10.0,
              envvar="PGRUN_SHUTDOWN_TIMEOUT", show_envvar=True, metavar="SECONDS",
              help="On SIGINT/SIGTERM, how long running jobs may take to finish before they are "
                   "failed as interrupted. A second signal stops at once.")
@click.option("--stop-grace", type=click.FloatRange(min=0), default=10.0, show_default=True,
              envvar="PGRUN_STOP_GRACE", show_envvar=True,
              help="After a job's cancel or timeout, how long a plain handler may take to return before "
                   "its slot is released and its thread abandoned (seconds).")
@click.option("--max-abandoned-threads", type=click.IntRange(min=0), default=None,
              envvar="PGRUN_MAX_ABANDONED_THREADS", show_envvar=True,
              help="With more abandoned handler threads alive than this, the worker stops gracefully and "
                   "runs itself again with the same arguments  [default: the concurrency].")
@click.option("--isolation", type=click.Choice(["thread", "process"]), default="thread", show_default=True,
              envvar="PGRUN_ISOLATION", show_envvar=True,
              help="Where plain (non-async) handlers run: in the worker's threads, or each call in a "
                   "child process that a cancel or timeout can kill (tasks can also choose with "
                   '@task(isolation="process")). Async handlers always run on the worker\'s loop.')
@click.option("--prefetch", type=click.IntRange(min=0), default=None, envvar="PGRUN_PREFETCH",
              show_envvar=True,
              help="Jobs claimed ahead of free slots and buffered, while jobs are short (under 0.2 s "
                   "on average) [default: 3 per --concurrency slot, at most 30, at least the concurrency].")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None, envvar="PGRUN_METRICS_PORT",
              show_envvar=True, metavar="PORT",
              help="Serve /metrics (Prometheus), /health/live and /health/ready on this port "
                   "(0: any free port, logged).")
@click.option("--metrics-host", default="127.0.0.1", envvar="PGRUN_METRICS_HOST", show_envvar=True,
              help="Address the metrics server binds (0.0.0.0: every interface).")
@click.version_option(__version__, "--version", prog_name="pgrun")
@click.pass_context
def main(ctx: click.Context, tasks_module: str | None, connection: str | None, schema: str,
         concurrency: int, poll_interval: float, once: bool, crontab: str | None,
         no_prepared_statements: bool, listen_connection: str | None, log_level: str, log_format: str,
         shutdown_timeout: float,
         stop_grace: float, max_abandoned_threads: int | None, isolation: str,
         prefetch: int | None, metrics_port: int | None, metrics_host: str) -> None:
    """pgrun: a PostgreSQL job queue for Python.

    Run a worker with `pgrun --tasks myapp.tasks`; install or upgrade the
    schema alone with `pgrun migrate`.
    """
    if ctx.invoked_subcommand is not None:
        return
    if not tasks_module:
        click.echo("pgrun: say which tasks to run: pgrun --tasks MODULE (or PGRUN_TASKS); "
                   "see pgrun --help", err=True)
        sys.exit(EXIT_USAGE)
    setup_logging(log_level.lower(), log_format=log_format.lower())
    sys.exit(run_worker(
        tasks_module, connection=connection, schema=schema, concurrency=concurrency,
        poll_interval=poll_interval, once=once, crontab=crontab,
        prepared_statements=not no_prepared_statements, listen_connection=listen_connection,
        shutdown_timeout=shutdown_timeout,
        prefetch=prefetch, stop_grace=stop_grace, max_abandoned_threads=max_abandoned_threads,
        isolation=isolation, metrics=None if metrics_port is None else (metrics_host, metrics_port),
    ))


def run_worker(tasks_module: str, metrics: tuple[str, int] | None = None, **options) -> int:
    """Runs a worker until it stops, with its metrics server on (host, port) if given; returns
    the exit code. User errors end in one line."""
    from .api import make_worker

    try:
        worker = make_worker(tasks_module, **options)
        code = asyncio.run(_serve(worker, metrics))
    except WorkerRestartRequired:
        code = 0  # restarted below
    except PgrunError as error:
        _fail(error)
    except db.DatabaseError as error:
        click.echo(f"pgrun: database error: {' '.join(str(error).split())}", err=True)
        sys.exit(1)
    if worker.restart_reason is not None:
        # the same command again, in a fresh process (abandoned threads go with the old one)
        log.warning("restarting: %s", " ".join(sys.orig_argv))
        logging.shutdown()
        os.execv(sys.executable, sys.orig_argv)
    if worker.threads_busy:
        # A plain handler ignored the interrupt; its thread would hold the process open.
        logging.shutdown()
        os._exit(code)
    return code


async def _serve(worker, metrics: tuple[str, int] | None = None) -> int:
    if metrics is None:
        return await _work(worker)
    from .metrics import serve_metrics

    try:
        server = await serve_metrics(worker, host=metrics[0], port=metrics[1])
    except OSError as error:
        raise ConfigurationError(f"cannot serve metrics on {metrics[0]}:{metrics[1]}: {error}") from error
    try:
        return await _work(worker)
    finally:
        await server.close()


async def _work(worker) -> int:
    loop = asyncio.get_running_loop()
    received = 0

    def on_signal(name: str) -> None:
        nonlocal received
        received += 1
        if received == 1:
            log.info("received %s; shutting down gracefully", name)
            worker.request_stop()
        elif received == 2:
            log.warning("received %s again; stopping at once", name)
            worker.request_stop(force=True)
        else:
            os._exit(130)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig.name)
    await worker.start()
    try:
        await worker.wait()
    except PgrunError:
        raise
    except Exception as error:
        click.echo(f"pgrun: worker stopped on an error: {type(error).__name__}: {error}", err=True)
        return 1
    return 1 if worker.forced else 0


def inherited(ctx: click.Context, name: str, value):
    """A subcommand's option, else the same option given before the subcommand
    (`pgrun --connection URL migrate`)."""
    return value if value is not None else ctx.parent.params.get(name)


@main.command()
@click.option("--connection", "-c", envvar=["PGRUN_CONNECTION", "DATABASE_URL"], show_envvar=True,
              help=CONNECTION_HELP)
@click.option("--schema", "-s", envvar="PGRUN_SCHEMA", show_envvar=True,
              help="Schema to install into.  [default: pgrun]")
@click.option("--print", "print_sql", is_flag=True,
              help="Print the SQL of a fresh install instead of applying it.")
@click.pass_context
def migrate(ctx: click.Context, connection: str | None, schema: str | None, print_sql: bool) -> None:
    """Install or upgrade the pgrun schema."""
    connection = inherited(ctx, "connection", connection)
    schema = inherited(ctx, "schema", schema) or "pgrun"
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
    elif result.previous_version == result.version:
        click.echo(f"schema {schema}: functions updated (version {result.version})")
    else:
        click.echo(f"schema {schema} migrated from version {result.previous_version} to {result.version}")


try:  # the cron commands (pgrun cron list), when pgrun.cron is there
    from .cron.cli import cron as _cron_commands
except ModuleNotFoundError as missing:  # pragma: no cover - a build without cron
    if missing.name != f"{__package__}.cron":
        raise
else:
    main.add_command(_cron_commands)

# the role commands (pgrun grant enqueue|worker|admin|read ROLE, pgrun revoke ROLE)
from .grant_cli import grant as _grant_command  # noqa: E402
from .grant_cli import revoke as _revoke_command  # noqa: E402

main.add_command(_grant_command)
main.add_command(_revoke_command)
# the control and inspection commands (pgrun jobs [show|cancel|retry|remove|reschedule],
# queues [pause|resume], tasks pause|resume, explain, add, workers, stats)
from .inspect_cli import COMMANDS as _admin_commands  # noqa: E402

for _command in _admin_commands:
    main.add_command(_command)
# the workflow commands (pgrun workflows [show ID])
from .workflows_cli import COMMANDS as _workflow_commands  # noqa: E402

for _command in _workflow_commands:
    main.add_command(_command)
from .limits_cli import limits as _limits_command  # noqa: E402

main.add_command(_limits_command)
# the web dashboard (pgrun dashboard); its dependencies are imported when it runs
from .dashboard.cli import dashboard as _dashboard_command  # noqa: E402

main.add_command(_dashboard_command)


if __name__ == "__main__":
    main()
