"""Crontab parsing: Graphile Worker's format plus time zones, and every error
reported with its file and line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pgrun.cron import CronItem, parse_crontab, parse_crontab_file, parse_time_phrase
from pgrun.errors import CrontabError, PgrunError


def one(line: str) -> CronItem:
    items = parse_crontab(line)
    assert len(items) == 1
    return items[0]


def problem(text: str) -> str:
    """The single problem reported for `text` (parsed as file 'crontab')."""
    with pytest.raises(CrontabError) as caught:
        parse_crontab(text, source="crontab")
    assert len(caught.value.problems) == 1, caught.value.problems
    source, line, reason = caught.value.problems[0]
    assert str(caught.value) == f"{source}:{line}: {reason}"
    return str(caught.value)


def test_a_bare_line_takes_graphile_defaults():
    item = one("30 4 * * 1 send_weekly_email")
    assert (item.schedule, item.task, item.id) == ("30 4 * * 1", "send_weekly_email", "send_weekly_email")
    assert item.payload == {}
    assert item.fill == timedelta(0)
    assert (item.max_attempts, item.queue, item.job_key, item.job_key_mode, item.priority) == (None,) * 5
    assert item.tz == "UTC"
    assert item.line == 1


def test_every_option_is_read():
    item = one("*/5 * * * * session.cleanup ?id=cleanup&fill=1w2d3h4m5s&max=3&queue=maintenance"
               "&jobKey=session%3Acleanup&jobKeyMode=preserve_run_at&priority=-4&tz=Europe/Paris")
    assert item.id == "cleanup"
    assert item.fill == timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)
    assert item.max_attempts == 3
    assert item.queue == "maintenance"
    assert item.job_key == "session:cleanup"
    assert item.job_key_mode == "preserve_run_at"
    assert item.priority == -4
    assert item.tz == "Europe/Paris"


def test_graphile_documentation_examples_parse_unchanged():
    items = parse_crontab(
        "# ┌───────────── UTC minute (0 - 59)\n"
        "30 4 * * 1 send_weekly_email\n"
        "30 4 * * 1 send_weekly_email ?fill=2d&max=10&id=weekly_with_fill {onboarding:false}\n"
        "0 */4 * * * rollup\n"
        "*/5 * * * * session.cleanup ?jobKey=session.cleanup&fill=1h\n")
    assert [item.id for item in items] == [
        "send_weekly_email", "weekly_with_fill", "rollup", "session.cleanup"]
    assert items[1].payload == {"onboarding": False}
    assert items[1].fill == timedelta(days=2)


def test_payload_is_json_or_the_json5_that_graphile_accepts():
    assert one('* * * * * t {"a": [1, 2.5, null], "b": "x"}').payload == {"a": [1, 2.5, None], "b": "x"}
    assert one("* * * * * t {a: 'single', b: [1, 2,], c: 0x1F, d: +.5, /* note */ e: true,}").payload == {
        "a": "single", "b": [1, 2], "c": 31, "d": 0.5, "e": True}
    assert one("* * * * * t ?max=2 {url: 'http://x/#frag'}").payload == {"url": "http://x/#frag"}


def test_comments_blank_lines_and_indentation_are_allowed():
    items = parse_crontab("\n# a comment\n   \n  # indented comment\n  0 * * * * hourly  \r\n\n")
    assert [(item.task, item.line) for item in items] == [("hourly", 5)]


def test_tz_line_sets_the_zone_of_the_lines_below_it():
    items = parse_crontab(
        "0 9 * * * utc_task\n"
        "TZ=Europe/Paris\n"
        "0 9 * * * paris_task\n"
        "0 9 * * * tokyo_task ?tz=Asia/Tokyo\n"
        "CRON_TZ='America/New_York'\n"
        "0 9 * * * new_york_task\n")
    assert [(item.task, item.tz) for item in items] == [
        ("utc_task", "UTC"), ("paris_task", "Europe/Paris"), ("tokyo_task", "Asia/Tokyo"),
        ("new_york_task", "America/New_York")]


def test_field_syntax_beyond_graphile_is_read():
    assert one("0 0 * * mon-fri t").expression == "0 0 * * 1,2,3,4,5"
    assert one("0 0 1 jan,jul * t").expression == "0 0 1 1,7 *"
    assert one("0-30/10 * * * * t").expression == "0,10,20,30 * * * *"
    assert one("0 0 * * 7 t").expression == "0 0 * * 0"
    assert one("0 0 * * 5-7 t").expression == "0 0 * * 0,5,6"
    # a field that allows every value is '*', so cron's day-of-month OR day-of-week rule holds
    assert one("0 0 1-31 * 0-6 t").expression == "0 0 * * *"


def test_python_items_get_the_same_checks():
    item = CronItem("0 4 * * *", "report", fill=timedelta(hours=2), payload={"x": 1})
    assert item.id == "report"
    assert item.expression == "0 4 * * *"
    with pytest.raises(CrontabError, match=r"^<python>: minute field '61'"):
        CronItem("61 * * * *", "report")
    with pytest.raises(CrontabError, match="payload must be a JSON object"):
        CronItem("* * * * *", "report", payload=[1])  # type: ignore[arg-type]
    with pytest.raises(CrontabError, match="payload cannot be stored as JSON"):
        CronItem("* * * * *", "report", payload={"x": float("nan")})
    with pytest.raises(CrontabError, match="fill must be a duration"):
        CronItem("* * * * *", "report", fill=timedelta(seconds=-1))
    with pytest.raises(CrontabError, match="max must be a whole number from 1 to 32767"):
        CronItem("* * * * *", "report", max_attempts=True)  # type: ignore[arg-type]


def test_time_phrases():
    assert parse_time_phrase("90s") == timedelta(seconds=90)
    assert parse_time_phrase("4w3d2h1m") == timedelta(minutes=44761)
    for bad in ("", "1", "1y", "h1", "1h 2m", "-1h"):
        with pytest.raises(ValueError, match="is not a time phrase"):
            parse_time_phrase(bad)


@pytest.mark.parametrize("text, message", [
    # line shape
    ("* * * *", "crontab:1: expected five time fields (minute hour day-of-month month day-of-week) "
                "and a task identifier"),
    ("* * * * *", "crontab:1: missing the task identifier after the five time fields"),
    ("* * * * * ?fill=1h", "crontab:1: missing the task identifier after the five time fields"),
    ("* * * * send", "crontab:1: day-of-week field 'send': 'send' is not a number or a name "
                     "(a line needs five time fields, then the task identifier)"),
    # bad fields
    ("60 * * * * t", "crontab:1: minute field '60': 60 is out of range 0-59"),
    ("* 24 * * * t", "crontab:1: hour field '24': 24 is out of range 0-23"),
    ("* * 0 * * t", "crontab:1: day-of-month field '0': 0 is out of range 1-31"),
    ("* * * 13 * t", "crontab:1: month field '13': 13 is out of range 1-12"),
    ("* * * * 8 t", "crontab:1: day-of-week field '8': 8 is out of range 0-7"),
    ("*/0 * * * * t", "crontab:1: minute field '*/0': the step in '*/0' must be at least 1"),
    ("30-10 * * * * t", "crontab:1: minute field '30-10': the range '30-10' runs backwards"),
    ("1,,2 * * * * t", "crontab:1: minute field '1,,2': cannot read '' (expected a number, a range a-b, "
                       "* or a step like */5)"),
    ("* * * foo * t", "crontab:1: month field 'foo': 'foo' is not a number or a name"),
    ("x * * * * t", "crontab:1: minute field 'x': 'x' is not a number"),
    ("0 0 30 2 * t", "crontab:1: schedule '0 0 30 2 *' never fires"),
    # task identifier
    ("* * * * * 9lives", "crontab:1: task identifier '9lives' is not valid"),
    ("* * * * * task?fill=1h", "(put a space before ?options)"),
    ("* * * * * " + "t" * 129, "is not valid"),
    # options
    ("* * * * * t ?fil=1h", "crontab:1: unknown option 'fil'; the options are id, fill, max, queue, jobKey, "
                            "jobKeyMode, priority, tz"),
    ("* * * * * t ?fill=1h&fill=2h", "crontab:1: option 'fill' is given more than once"),
    ("* * * * * t ?fill", "crontab:1: option 'fill' has no value (write fill=VALUE)"),
    ("* * * * * t ?fill=", "crontab:1: option 'fill' has no value (write fill=VALUE)"),
    ("* * * * * t ?fill=1y", "crontab:1: option 'fill': '1y' is not a time phrase"),
    ("* * * * * t ?fill=1h30", "crontab:1: option 'fill': '1h30' is not a time phrase"),
    ("* * * * * t ?max=0", "crontab:1: max must be a whole number from 1 to 32767, not 0"),
    ("* * * * * t ?max=ten", "crontab:1: option 'max' must be a whole number, not 'ten'"),
    ("* * * * * t ?max=40000", "crontab:1: max must be a whole number from 1 to 32767, not 40000"),
    ("* * * * * t ?priority=1.5", "crontab:1: option 'priority' must be a whole number, not '1.5'"),
    ("* * * * * t ?priority=-40000", "crontab:1: priority must be a whole number from -32768 to 32767"),
    ("* * * * * t ?id=has%20space", "crontab:1: id 'has space' is not valid"),
    ("* * * * * t ?queue=" + "q" * 129, "crontab:1: queue name must be 1 to 128 characters, not 129"),
    ("* * * * * t ?jobKey=" + "k" * 513, "crontab:1: jobKey must be 1 to 512 characters, not 513"),
    ("* * * * * t ?jobKey=k&jobKeyMode=sometimes", "crontab:1: jobKeyMode 'sometimes' is not one of replace, "
                                                   "preserve_run_at, unsafe_dedupe"),
    ("* * * * * t ?jobKeyMode=replace", "crontab:1: jobKeyMode is given without jobKey"),
    # time zones
    ("* * * * * t ?tz=Mars/Olympus", "crontab:1: unknown time zone 'Mars/Olympus'"),
    ("* * * * * t ?tz=../etc/passwd", "crontab:1: unknown time zone '../etc/passwd'"),
    ("TZ=Europe/Pariss", "crontab:1: unknown time zone 'Europe/Pariss'"),
    ("MAILTO=ops@example.com", "crontab:1: unknown setting MAILTO= (only TZ= is understood"),
    # payload
    ("* * * * * t {a:", "crontab:1: payload is not valid JSON: unexpected end of the payload at character 4"),
    ("* * * * * t {'a': NaN}", "crontab:1: payload is not valid JSON: NaN and Infinity cannot be stored"),
    ("* * * * * t {} extra", "crontab:1: payload is not valid JSON: unexpected 'e' after the value"),
    ("* * * * * t [1, 2]", "crontab:1: unexpected '[1, 2]' after the task identifier"),
    ("* * * * * t {a: 1} ?max=2", "crontab:1: payload is not valid JSON"),
    ("* * * * * t junk", "crontab:1: unexpected 'junk' after the task identifier: options start with '?'"),
])
def test_each_invalid_line_is_rejected_with_file_line_and_reason(text, message):
    assert message in problem(text)


def test_duplicate_ids_are_reported_at_the_second_line():
    reason = problem("0 * * * * report\n0 12 * * * report\n")
    assert reason.startswith("crontab:2: duplicate id 'report' (also on line 1); give one of them ?id=")
    assert parse_crontab("0 * * * * report\n0 12 * * * report ?id=report_noon\n")[1].id == "report_noon"


def test_every_bad_line_is_reported_at_once_in_line_order():
    with pytest.raises(CrontabError) as caught:
        parse_crontab("# ok\n0 * * * * fine\n61 * * * * a\n* * * * * b ?nope=1\n0 * * * * fine\n",
                      source="/etc/pgrun/crontab")
    error = caught.value
    assert isinstance(error, PgrunError)
    assert [line for _, line, _ in error.problems] == [3, 4, 5]
    assert str(error).splitlines() == [
        "3 problems in the crontab:",
        "  /etc/pgrun/crontab:3: minute field '61': 61 is out of range 0-59",
        "  /etc/pgrun/crontab:4: unknown option 'nope'; the options are id, fill, max, queue, jobKey, "
        "jobKeyMode, priority, tz",
        "  /etc/pgrun/crontab:5: duplicate id 'fine' (also on line 2); give one of them ?id=... "
        "to tell them apart",
    ]


def test_a_file_is_read_and_named_in_errors(tmp_path):
    path = tmp_path / "crontab"
    path.write_text("TZ=Europe/Paris\n0 2 * * * nightly ?fill=1d\n")
    [item] = parse_crontab_file(path)
    assert (item.tz, item.source, item.line) == ("Europe/Paris", str(path), 2)

    path.write_text("0 2 * * * nightly ?fill=1q\n")
    with pytest.raises(CrontabError, match=rf"^{path}:1: option 'fill'"):
        parse_crontab_file(path)

    with pytest.raises(CrontabError, match=r"cannot read crontab .*missing: No such file or directory"):
        parse_crontab_file(tmp_path / "missing")
