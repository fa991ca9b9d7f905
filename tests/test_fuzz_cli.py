"""Fuzzing the command line (issue 12): `pgrun add` and `pgrun jobs ...` with any arguments.

In process (click's runner, exceptions not caught): every invocation ends with exit 0,
or with exit 1 or 2 and one line on stderr that starts `pgrun:` or click's `Error:` and
says what is wrong; never a traceback. A job `pgrun add` reports is in the table as
given. Then the real program, with bytes that are not UTF-8 in its arguments (Python
decodes them as lone surrogates): the same rule. Example counts and the long profile:
tests/fuzz_support.py.
"""

from __future__ import annotations

import json
import os
import subprocess

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from fuzz_support import any_int, any_text, examples, json_objects, task_name
from pgrun.cli import main
from support import TESTS_DIR, pgrun_command

texts = st.one_of(any_text, task_name)
numbers = st.one_of(any_int.map(str), any_text)
moments = st.one_of(st.sampled_from(["1h", "30s", "2d", "0s", "-5m", "1e9d", "99999999999d", "2024-01-01",
                                     "2024-13-01", "9999-12-31T23:59:59", "0001-01-01", "now"]), any_text)


def _invoke(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _assert_clean_ending(code: int, err: str) -> None:
    assert "Traceback" not in err, err
    if code == 0:
        return
    assert code in (1, 2), (code, err)
    lines = err.strip().splitlines()
    assert lines and lines[-1].startswith(("pgrun:", "Error:")), err
    assert len(lines[-1]) > len("pgrun: "), err


@st.composite
def add_arguments(draw) -> list[str]:
    args = ["add", draw(texts)]
    if draw(st.booleans()):
        args.append(draw(st.one_of(st.builds(json.dumps, json_objects), any_text)))
    for option, values in (("--run-at", moments), ("--job-key", texts), ("--queue", texts),
                           ("--priority", numbers), ("--max-attempts", numbers)):
        if draw(st.booleans()):
            args += [option, draw(values)]
    return args


@examples(80)
@given(args=add_arguments(), as_json=st.booleans())
def test_pgrun_add_adds_what_it_reports_or_fails_in_one_line(dsn, conn, args, as_json):
    conn.execute("delete from pgrun._private_jobs")
    code, out, err = _invoke([*args, "--connection", dsn, *(["--json"] if as_json else [])])
    _assert_clean_ending(code, err)
    count = conn.execute("select count(*) from pgrun._private_jobs").fetchone()[0]
    if code != 0:
        assert count == 0
        return
    assert count == 1
    task, = conn.execute("select task_identifier from pgrun._private_jobs").fetchone()
    assert task == args[1]
    if as_json:
        assert json.loads(out)["task"] == task


@st.composite
def jobs_arguments(draw) -> list[str]:
    command = draw(st.sampled_from(["", "show", "remove", "reschedule", "cancel", "retry"]))
    args = ["jobs"] + ([command] if command else [])
    if command == "":
        for option, values in (("--state", texts), ("--task", texts), ("--queue", texts), ("--key", texts),
                               ("--payload", texts), ("--before", numbers), ("--limit", numbers)):
            if draw(st.booleans()):
                args += [option, draw(values)]
    else:
        args += draw(st.lists(numbers, min_size=0 if command != "show" else 1, max_size=3))
        if command == "reschedule":
            for option, values in (("--run-at", moments), ("--priority", numbers),
                                   ("--attempts", numbers), ("--max-attempts", numbers)):
                if draw(st.booleans()):
                    args += [option, draw(values)]
        if command == "cancel" and draw(st.booleans()):
            args += ["--reason", draw(texts)]
    return args


@examples(80)
@given(args=jobs_arguments(), as_json=st.booleans())
def test_pgrun_jobs_commands_answer_or_fail_in_one_line(dsn, conn, args, as_json):
    if conn.execute("select count(*) from pgrun._private_jobs").fetchone()[0] < 3:
        conn.execute("select pgrun.add_job('fuzz', json_build_object('n', n)) "
                     "from generate_series(1, 3) as n")
    code, out, err = _invoke([*args, "--connection", dsn, *(["--json"] if as_json else [])])
    _assert_clean_ending(code, err)
    if code == 0 and as_json:
        json.loads(out)


# Bytes that are not UTF-8, as a shell passes them: the program sees lone surrogates.
NOT_UTF8 = [b"caf\xe9", b"\xc3\x28", b"\xed\xa0\x80"]


def test_arguments_that_are_not_utf8_fail_in_one_line(dsn, conn):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGRUN_")}
    env["LC_ALL"] = env["LANG"] = "C.UTF-8"
    for raw in NOT_UTF8:
        for args in (["add", raw], ["add", b"fuzz", b'{"a": "' + raw + b'"}'],
                     ["add", b"fuzz", b"--queue", raw], ["add", b"fuzz", b"--job-key", raw],
                     ["jobs", b"--task", raw], ["jobs", b"--payload", raw]):
            command = [os.fsencode(part) for part in pgrun_command()] + args + [b"--connection", dsn.encode()]
            done = subprocess.run(command, cwd=TESTS_DIR, env=env, capture_output=True, timeout=120)
            err = done.stderr.decode("utf-8", "replace")
            _assert_clean_ending(done.returncode, err)
            assert done.returncode != 0 or args[0] == "jobs", (args, err)
    assert conn.execute("select count(*) from pgrun._private_jobs").fetchone()[0] == 0


# What the long profile found, as plain regression tests.
def test_a_delay_beyond_the_year_9999_fails_in_one_line(dsn):
    code, _, err = _invoke(["add", "t", "--run-at", "99999999999d", "--connection", dsn])   # OverflowError
    _assert_clean_ending(code, err)
    assert code == 2 and "too far ahead" in err


def test_an_argument_with_a_line_break_is_quoted_on_the_one_line(dsn):
    code, _, err = _invoke(["jobs", "show", "1", "\r", "--connection", dsn])   # it split the message
    _assert_clean_ending(code, err)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "\\r" in err
