"""`pgrun cron list`: each item with its next run and last execution."""

from __future__ import annotations

from click.testing import CliRunner

from cron_support import utc
from pgrun.cron import cron_list, parse_crontab
from pgrun.cron.cli import cron

CRONTAB = ("0 4 * * 1 weekly ?fill=2d\n"
           "TZ=Europe/Paris\n"
           "30 2 * * * nightly\n"
           "*/5 * * * * often ?id=often_utc&tz=UTC\n")


def test_cron_list_shows_next_run_and_last_execution(dsn, conn):
    conn.execute("select pgrun.cron_register(array['weekly', 'nightly'], '2024-04-01 00:00+00')")
    conn.execute("select pgrun.cron_enqueue_tick('weekly', '2024-04-29 04:00+00', false, 'weekly')")
    rows = cron_list(dsn, "pgrun", parse_crontab(CRONTAB), now=utc(2024, 5, 1, 10, 2))
    assert [(r.id, r.task, r.schedule, r.tz, r.next_run, r.last_execution, r.known) for r in rows] == [
        ("weekly", "weekly", "0 4 * * 1", "UTC", utc(2024, 5, 6, 4), utc(2024, 4, 29, 4), True),
        ("nightly", "nightly", "30 2 * * *", "Europe/Paris", utc(2024, 5, 2, 0, 30), None, True),
        ("often_utc", "often", "*/5 * * * *", "UTC", utc(2024, 5, 1, 10, 5), None, False),
    ]
    # reading changes nothing
    assert conn.execute("select count(*) from pgrun._private_known_crontabs").fetchone()[0] == 2


def test_the_command_prints_a_table(dsn, conn, tmp_path):
    path = tmp_path / "crontab"
    path.write_text(CRONTAB)
    conn.execute("select pgrun.cron_register(array['weekly', 'nightly'], '2024-04-01 00:00+00')")
    conn.execute("select pgrun.cron_enqueue_tick('nightly', '2024-04-29 00:30+00', false, 'nightly')")
    result = CliRunner().invoke(cron, ["list", "--crontab", str(path), "--connection", dsn])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "TASK", "SCHEDULE", "TZ", "NEXT", "RUN", "LAST", "EXECUTION"]
    assert lines[1].startswith("weekly ") and lines[1].endswith("never")
    assert lines[2].startswith("nightly ") and lines[2].endswith("2024-04-29 02:30 +0200")
    assert lines[3].startswith("often_utc ") and lines[3].endswith("never (not registered yet)")

    utc_result = CliRunner().invoke(cron, ["list", "--crontab", str(path), "--connection", dsn, "--utc"])
    assert utc_result.output.splitlines()[2].endswith("2024-04-29 00:30 +0000")


def test_the_command_reports_a_bad_crontab_and_exits_1(dsn, tmp_path):
    path = tmp_path / "crontab"
    path.write_text("0 4 * * 1 weekly ?fill=2x\n")
    result = CliRunner().invoke(cron, ["list", "--crontab", str(path), "--connection", dsn])
    assert result.exit_code == 1
    assert result.output == f"pgrun: {path}:1: option 'fill': '2x' is not a time phrase such as 1h, 2d or " \
                            "1w2d3h4m5s (units s, m, h, d, w)\n"


def test_the_command_says_when_pgrun_is_not_installed(empty_dsn, tmp_path):
    path = tmp_path / "crontab"
    path.write_text("0 4 * * 1 weekly\n")
    result = CliRunner().invoke(cron, ["list", "--crontab", str(path), "--connection", empty_dsn])
    assert result.exit_code == 1
    assert "schema pgrun has no cron bookkeeping; run `pgrun migrate --schema pgrun` first" in result.output
