"""Fuzzing crontab lines (issue 12): runner/pgrun/cron/parse.py.

Any text either parses or raises CrontabError, whose every problem names the line and
says what is wrong; no other exception escapes (a worker reads its crontab at start, and
an exception of another kind would stop it with a traceback instead of the line). Lines
written from a grammar of good ones parse to exactly what they say. Example counts and
the long profile: tests/fuzz_support.py.
"""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_support import any_int, any_text, examples, json_objects, storable_chars, task_name
from pgrun.cron.parse import parse_crontab
from pgrun.errors import CrontabError

# Pieces crontab lines are made of, good and bad, weighted so that random lines get past
# the first checks often enough to reach the later ones.
ZONES = ["UTC", "Europe/Paris", "America", "", "/", "posixrules", "../../../etc/passwd", "Etc/GMT+14",
         "\x00", "Europe/Paris\x00", "é" * 200, "nowhere/at_all"]
GOOD_FIELDS = ["*", "0", "59", "*/5", "1-5", "1,2,3", "mon", "MON-FRI", "jan", "7", "0-59/15"]
BAD_FIELDS = ["60", "*/0", "5-1", "-1", "1-", "²", "٣", "*/99999999999999999999", "L", "?", "*/-1", "30/0"]
PHRASES = ["1h", "2d", "1w2d3h4m5s", "0s", "99999999999w", "9" * 30 + "s", "1x", "", "h"]
OPTION_VALUES = {"fill": st.sampled_from(PHRASES), "tz": st.sampled_from(ZONES),
                 "max": any_int.map(str), "priority": any_int.map(str),
                 "jobKeyMode": st.sampled_from(["replace", "unsafe_dedupe", "nope"])}
PAYLOADS = ["{", "{a: 1}", "{'a': 1,}", "[1]", '{"a":' * 3000 + "1" + "}" * 3000,
            '{"a": ' + "[" * 5000 + "]" * 5000 + "}", '{"a": 1e999999}', '{"a": "\\ud800"}']


def mostly(good, bad, weight: int = 8):
    return st.integers(0, 9).flatmap(lambda n: good if n < weight else bad)


@st.composite
def options(draw) -> str:
    chosen = draw(st.lists(st.sampled_from(["id", "fill", "max", "queue", "jobKey", "jobKeyMode", "priority",
                                            "tz", "other"]), unique=True, max_size=3))
    pairs = [(k, draw(mostly(OPTION_VALUES.get(k, any_text), any_text))) for k in chosen]
    return "?" + "&".join(f"{quote_plus(k)}={quote_plus(v, errors='surrogatepass')}" for k, v in pairs)


@st.composite
def lines(draw) -> str:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(any_text)
    if kind == 1:
        return "TZ=" + draw(mostly(st.sampled_from(ZONES), any_text))
    count = draw(mostly(st.just(5), st.sampled_from([4, 6])))
    fields = [draw(mostly(st.sampled_from(GOOD_FIELDS), st.one_of(st.sampled_from(BAD_FIELDS), any_text), 9))
              for _ in range(count)]
    parts = [" ".join(fields), draw(mostly(task_name, any_text, 9))]
    if draw(st.booleans()):
        parts.append(draw(options()))
    if draw(st.booleans()):
        parts.append(draw(mostly(st.builds(json.dumps, json_objects), st.one_of(st.sampled_from(PAYLOADS),
                                                                                 any_text), 5)))
    return " ".join(parts)


@examples(300)
@given(text=st.lists(lines(), min_size=1, max_size=4).map("\n".join))
def test_any_crontab_parses_or_says_which_line_is_wrong(text):
    try:
        items = parse_crontab(text, source="fuzz.crontab")
    except CrontabError as error:
        assert error.problems, error
        for source, line, what in error.problems:
            assert source == "fuzz.crontab" and what, error.problems
            assert line is None or 1 <= line <= len(text.splitlines()), error.problems
        assert str(error)
        return
    assert all(item.source == "fuzz.crontab" for item in items)


minutes = st.one_of(st.just("*"), st.integers(0, 59).map(str), st.integers(1, 30).map(lambda n: f"*/{n}"))
good_queue = st.text(storable_chars, min_size=1, max_size=128)


@examples(150)
@given(minute=minutes, hour=st.one_of(st.just("*"), st.integers(0, 23).map(str)), task=task_name,
       fill=st.one_of(st.none(), st.integers(0, 10**4).map(lambda n: (f"{n}m", timedelta(minutes=n)))),
       max_attempts=st.one_of(st.none(), st.integers(1, 32767)),
       priority=st.one_of(st.none(), st.integers(-32768, 32767)), queue=st.one_of(st.none(), good_queue),
       key=st.one_of(st.none(), st.tuples(st.text(storable_chars, min_size=1, max_size=512),
                                          st.sampled_from(["replace", "preserve_run_at", "unsafe_dedupe"]))),
       payload=json_objects)
def test_good_lines_parse_to_what_they_say(minute, hour, task, fill, max_attempts, priority, queue, key,
                                           payload):
    opts = {"fill": fill and fill[0], "max": max_attempts, "priority": priority, "queue": queue,
            "jobKey": key and key[0], "jobKeyMode": key and key[1]}
    query = "&".join(f"{name}={quote_plus(str(value))}" for name, value in opts.items() if value is not None)
    text = f"{minute} {hour} * * * {task}" + (f" ?{query}" if query else "") + f" {json.dumps(payload)}"
    [item] = parse_crontab(text)
    assert (item.schedule, item.task, item.id) == (f"{minute} {hour} * * *", task, task)
    assert item.fill == (fill[1] if fill else timedelta(0))
    assert (item.max_attempts, item.priority, item.queue) == (max_attempts, priority, queue)
    assert (item.job_key, item.job_key_mode) == ((key[0], key[1]) if key else (None, None))
    assert json.loads(json.dumps(item.payload)) == json.loads(json.dumps(payload))


# What the fuzzing found, as plain regression tests: each escaped parse_crontab as an
# exception of another kind (OSError, OverflowError, RecursionError), or said nothing useful.
@pytest.mark.parametrize(("line", "says"), [
    ("TZ=" + "é" * 200, "unknown time zone"),                    # OSError: file name too long
    ("* * * * * t ?tz=America", "unknown time zone"),            # a directory of zones
    ("* * * * * t ?fill=99999999999w", "too long a time"),       # OverflowError
    ("* * * * * t ?fill=" + "9" * 30 + "s", "too long a time"),  # OverflowError
    ('* * * * * t {"a": ' + "[" * 5000 + "]" * 5000 + "}", "nested too deeply"),  # RecursionError
    ("²² * * * * t", "'²²' is not a number"),                   # was int()'s own message
])
def test_lines_the_fuzzing_found_are_refused_with_a_reason(line, says):
    with pytest.raises(CrontabError) as refused:
        parse_crontab(line)
    [(_, number, what)] = refused.value.problems
    assert number == 1 and says in what, what
