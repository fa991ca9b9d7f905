"""`pgrun grant enqueue|worker|admin|read ROLE` and `pgrun revoke ROLE`: the four roles of
docs/sql.md, given with the SQL functions grant_enqueue, grant_worker, grant_admin,
grant_read and revoke_all. Run them as the schema's owner (or a superuser).

    pgrun grant enqueue web_app --task emails.send --queue 'tenant:*'
    pgrun grant worker pgrun_worker
    pgrun revoke web_app

A grant is recorded, so upgrades re-apply it to functions they add; granting enqueue again
replaces the tasks and queues it names. Role names are taken as written (case matters).
The main CLI adds both commands (`main.add_command`).
"""

from __future__ import annotations

import sys

import click

from . import db, queries
from .errors import PgrunError

# As in cli.py, which imports this module (so this one cannot import it: `python -m pgrun.cli`).
EXIT_USAGE = 2
CONNECTION_HELP = "PostgreSQL URL or conninfo; else DATABASE_URL, else libpq's PG* variables."

# SQLSTATEs that mean the caller asked for something wrong: role does not exist, bad
# argument (task or queue name). They exit 2, as bad input does.
_USAGE_STATES = {"42704", "22023"}


class _OneLineUsage(click.UsageError):
    """click's usage error, shown as one line (`pgrun: ...`) like every other error."""

    def show(self, file=None) -> None:
        click.echo(f"pgrun: {self.format_message()}", err=True)


class OneLineCommand(click.Command):
    """A command whose usage errors are one line and exit 2."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            if isinstance(error, _OneLineUsage):
                raise
            names, at = [], ctx
            while at.parent is not None:  # "grant enqueue", without the program's name
                names.insert(0, at.info_name)
                at = at.parent
            where = " ".join(names)
            reason = _one_line(error.format_message().rstrip("."))
            raise _OneLineUsage(f"{where}: {reason} (see pgrun {where} --help)", ctx) from None


class OneLineGroup(OneLineCommand, click.Group):
    """A group whose own options' usage errors are one line and exit 2 (`pgrun jobs --limit 0`)."""


def _one_line(text: str) -> str:
    """`text` with line breaks and other unprintable characters (from an argument quoted in
    the message) written as escapes, so that the message stays one line."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def connection_options(command):
    """--connection and --schema, as every subcommand takes them (else the main command's)."""
    command = click.option("--schema", "-s", envvar="PGRUN_SCHEMA", show_envvar=True,
                           help="Schema pgrun is installed in.  [default: pgrun]")(command)
    command = click.option("--connection", "-c", envvar=["PGRUN_CONNECTION", "DATABASE_URL"],
                           show_envvar=True, help=CONNECTION_HELP)(command)
    return command


def _target_options(command):
    return click.argument("role")(connection_options(command))


def run_statement(ctx: click.Context, connection: str | None, schema: str | None,
                  statements: list[tuple[str, tuple]],
                  usage_states: frozenset[str] = frozenset(_USAGE_STATES)) -> tuple[str, list[list[tuple]]]:
    """Runs statements (names in pgrun.queries, with parameters) in one transaction; returns
    the schema and each one's rows. Errors end the process in one line: exit 2 for a
    SQLSTATE in `usage_states` (bad input), else 1. Shared by the admin commands."""
    root = ctx.find_root()
    connection = connection if connection is not None else root.params.get("connection")
    schema = schema or root.params.get("schema") or "pgrun"
    for _, params in statements:
        _check_text(params)
    try:
        named = queries.for_schema(schema)
        with db.connect(db.resolve_conninfo(connection)) as conn, conn.transaction():
            rows = [conn.execute(getattr(named, name), params).fetchall() for name, params in statements]
    except PgrunError as error:
        click.echo(f"pgrun: {error}", err=True)
        sys.exit(1)
    except db.DatabaseError as error:
        state = getattr(error, "sqlstate", None)
        message = " ".join(str(error).split("\n", 1)[0].split())
        if state in ("3F000", "42883"):  # no such schema / function
            message = f"pgrun is not installed in schema {schema} (run pgrun migrate): {message}"
        click.echo(f"pgrun: {message}", err=True)
        sys.exit(EXIT_USAGE if state in usage_states else 1)
    return schema, rows


def _check_text(params: tuple) -> None:
    """Exits 2 for an argument PostgreSQL cannot receive as text: a NUL character, or bytes
    that are not UTF-8 (Python reads them from the command line as lone surrogates); psycopg
    would fail on it with a traceback or without naming the problem."""
    for value in params:
        for text in value if isinstance(value, list) else [value]:
            if not isinstance(text, str):
                continue
            if "\x00" in text:
                click.echo("pgrun: an argument contains a NUL character, which PostgreSQL text cannot hold",
                           err=True)
                sys.exit(EXIT_USAGE)
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                shown = text.encode("utf-8", "surrogateescape" if _escaped(text) else "backslashreplace")
                click.echo(f"pgrun: an argument is not valid UTF-8 text: {shown!r}", err=True)
                sys.exit(EXIT_USAGE)


def _escaped(text: str) -> bool:
    """Whether every lone surrogate in `text` stands for a byte (U+DC80 to U+DCFF)."""
    return all("\udc80" <= c <= "\udcff" for c in text if "\ud800" <= c <= "\udfff")


def _run(ctx: click.Context, connection: str | None, schema: str | None, statement: str,
         params: tuple) -> str:
    """Runs one grant statement; returns the schema."""
    return run_statement(ctx, connection, schema, [(statement, params)])[0]


def _listed(values: tuple[str, ...]) -> list[str] | None:
    return list(values) if values else None


@click.group("grant")
def grant() -> None:
    """Give a role one of pgrun's four sets of rights (enqueue, worker, admin, read)."""


@grant.command("enqueue", cls=OneLineCommand)
@_target_options
@click.option("--task", "tasks", multiple=True, metavar="TASK",
              help="A task the role may add (repeat for more); any task if none is given.")
@click.option("--queue", "queues", multiple=True, metavar="QUEUE",
              help="A queue the role may add into, or a pattern ending in * (repeat for more); "
                   "any queue if none is given.")
@click.pass_context
def grant_enqueue(ctx: click.Context, role: str, connection: str | None, schema: str | None,
                  tasks: tuple[str, ...], queues: tuple[str, ...]) -> None:
    """Let ROLE add jobs (add_job, add_jobs) and nothing more: it sees and changes only the
    jobs it added, and only of these tasks and queues if given."""
    schema = _run(ctx, connection, schema, "grant_enqueue", (role, _listed(tasks), _listed(queues)))
    scope = f"tasks: {', '.join(tasks) if tasks else 'any'}; queues: {', '.join(queues) if queues else 'any'}"
    click.echo(f"granted enqueue on schema {schema} to {role} ({scope})")


def _simple_grant(kind: str, help_text: str):
    @grant.command(kind, cls=OneLineCommand, help=help_text)
    @_target_options
    @click.pass_context
    def command(ctx: click.Context, role: str, connection: str | None, schema: str | None) -> None:
        schema = _run(ctx, connection, schema, f"grant_{kind}", (role,))
        click.echo(f"granted {kind} on schema {schema} to {role}")

    return command


grant_worker = _simple_grant("worker", "Let ROLE run workers: claim and finish jobs, heartbeat, "
                                       "cron, maintenance, and add jobs.")
grant_admin = _simple_grant("admin", "Let ROLE do what a worker does and change or remove any job "
                                     "(complete, fail, reschedule, remove, unlock, retention).")
grant_read = _simple_grant("read", "Let ROLE read the jobs view and job results.")


@click.command("revoke", cls=OneLineCommand)
@_target_options
@click.pass_context
def revoke(ctx: click.Context, role: str, connection: str | None, schema: str | None) -> None:
    """Take back every right pgrun gave ROLE in this schema."""
    schema = _run(ctx, connection, schema, "revoke_all", (role,))
    click.echo(f"revoked every pgrun right of {role} on schema {schema}")


__all__ = ["grant", "revoke"]
