"""`pgrun limits`: flow-control limits (SQL list_limits, set_limit, remove_limit).

    pgrun limits                                      # each key: limit, running, room, waiting
    pgrun limits set 'tenant:*' --max-running 2       # every tenant key its own 2
    pgrun limits set hubspot --rate 100/10s --burst 20
    pgrun limits remove hubspot

Listing needs read rights, set and remove admin rights. Changes apply to the next claim, with no
restart. Bad input exits 2 with one line, as the other commands do.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timezone

import click

from .admin_cli import _emit, _options, _run
from .grant_cli import EXIT_USAGE, OneLineCommand, OneLineGroup
from .inspect_cli import _cell, _rows, table
from .queries import LIMIT_COLUMNS

_RATE = re.compile(r"^(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*(s|m|h|d)$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class _Rate(click.ParamType):
    """N/PERIOD: at most N job starts in any window of PERIOD (100/10s, 5/m, 1000/1h)."""

    name = "N/PERIOD"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        match = _RATE.match(str(value).strip())
        if not match or int(match.group(1)) < 1 or match.group(2) is not None and float(match.group(2)) <= 0:
            self.fail(f"{value!r} is not a rate N/PERIOD with N at least 1 (100/10s, 5/m, 1000/1h)",
                      param, ctx)
        seconds = float(match.group(2) or 1) * _SECONDS[match.group(3)]
        return int(match.group(1)), f"{seconds:g} seconds"


@click.group("limits", cls=OneLineGroup, invoke_without_command=True)
@_options
def limits(ctx: click.Context, connection: str | None, schema: str | None, as_json: bool) -> None:
    """List each limited key: its limit, running jobs, room to start more now, waiting jobs."""
    if ctx.invoked_subcommand is not None:
        return
    found = _rows(LIMIT_COLUMNS, _run(ctx, connection, schema, "list_limits", ()))
    if as_json:
        _emit(True, found, [])
        return
    rows = []
    for k in found:
        rate = "-" if k["max_per_period"] is None else f"{k['max_per_period']}/{k['period']:g}s"
        if k["burst"] is not None and k["burst"] != k["max_per_period"]:
            rate += f" burst {k['burst']}"
        running = "-" if k["running"] is None else (
            f"{k['running']}/{k['max_running']}" if k["max_running"] < 2**31 - 1 else str(k["running"]))
        rows.append([k["key"], k["set_by"] if k["set_by"] != k["key"] else "", running, rate, k["room"],
                     k["waiting"], _until(k["paused_until"]) if k["paused_until"] else _until(k["opens_at"])])
    _emit(False, None, table(["KEY", "FROM", "RUNNING", "RATE", "ROOM", "WAITING", "OPENS"], rows)
          if rows else ["no limits"])


def _until(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    seconds = (moment - datetime.now(timezone.utc)).total_seconds()
    return f"{_cell(moment)} (in {max(seconds, 0):.1f}s)"


@limits.command("set", cls=OneLineCommand)
@click.argument("key")
@click.option("--max-running", type=int, help="At most this many of its jobs run at once.")
@click.option("--rate", type=_Rate(), help="N/PERIOD: at most N starts in any window of PERIOD (100/10s).")
@click.option("--burst", type=int, help="At most this many starts in any PERIOD*burst/N (default N).")
@_options
def set_limit(ctx: click.Context, key: str, max_running: int | None, rate: tuple[int, str] | None,
              burst: int | None, connection: str | None, schema: str | None, as_json: bool) -> None:
    """Set the limit of KEY (a queue name, a limit key, or a pattern ending in *)."""
    per, period = rate if rate is not None else (None, None)
    _run(ctx, connection, schema, "set_limit", (key, max_running, per, period, burst))
    _emit(as_json, {"key": key, "max_running": max_running, "max_per_period": per, "period": period,
                    "burst": burst},
          [f"limit {key} set" + (f": max running {max_running}" if max_running else "")
           + (f"{',' if max_running else ':'} {per} per {period}" if per else "")
           + (f", burst {burst}" if burst else "")])


@limits.command("remove", cls=OneLineCommand)
@click.argument("key")
@_options
def remove_limit(ctx: click.Context, key: str, connection: str | None, schema: str | None,
                 as_json: bool) -> None:
    """Remove the limit of KEY; its keys fall back to the next matching pattern, else to none."""
    if not _run(ctx, connection, schema, "remove_limit", (key,))[0][0]:
        click.echo(f"pgrun: no limit {key} (nothing was changed)", err=True)
        sys.exit(EXIT_USAGE)
    _emit(as_json, {"key": key, "removed": True}, [f"limit {key} removed"])


__all__ = ["limits"]
