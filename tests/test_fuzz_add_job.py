"""Fuzzing add_job and add_jobs (issue 12): every argument, from Python and in SQL.

A call either adds exactly what it was given (read back from the table: task, queue,
key, priority, attempts, flags, run_at, timeout, meta and payload, numbers compared by
value) or is refused with a specific error and adds nothing: from Python a ValueError or
TypeError naming the argument, from SQL a SQLSTATE of invalid input and a message. No
other exception is acceptable, and nothing half-added may stay. Example counts and the
long profile: tests/fuzz_support.py.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import psycopg
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from fuzz_support import (
    any_int,
    any_payload,
    any_text,
    canonical,
    canonical_text,
    examples,
    json_objects,
    json_values,
    moments,
    nested,
    storable_chars,
    storable_text,
    task_name,
)
from pgrun import JobSpec, utils

# What the database may answer to bad input: invalid parameter (pgrun's own checks), value
# out of range (a cast), payload too large, JSON it cannot parse or store, nesting beyond
# its stack, a timestamp or interval out of range.
REFUSED = {"22023", "22003", "54000", "22P02", "22P05", "54001", "22008", "22015"}
ARGUMENTS = ("identifier", "queue_name", "job_key", "job_key_mode", "flags", "priority", "max_attempts",
             "timeout", "payload", "meta", "specs[")

maybe = st.none().__or__
identifiers = st.one_of(task_name, any_text)
modes = st.one_of(st.sampled_from(["replace", "preserve_run_at", "unsafe_dedupe"]), any_text)
timeouts = st.one_of(st.none(), st.floats(), st.integers(-10, 10**12),
                     st.timedeltas(min_value=timedelta(days=-10), max_value=timedelta(days=10**6)))
metas = st.one_of(st.none(), json_objects,
                  st.fixed_dictionaries({"retry": st.one_of(json_values, st.fixed_dictionaries(
                      {"kind": st.sampled_from(["exponential", "linear", "fixed", "nope"]),
                       "base": st.one_of(st.integers(-5, 100), st.floats()),
                       "max_delay": st.integers(-5, 10**6), "jitter": st.floats(-1, 2)}))}))


def _clear(conn) -> None:
    conn.execute("delete from pgrun._private_jobs")


def _rows(conn) -> int:
    return conn.execute("select count(*) from pgrun._private_jobs").fetchone()[0]


def _stored(conn, job_id: int) -> dict:
    cursor = conn.execute("select task_identifier, queue_name, key, priority, max_attempts, flags, run_at, "
                          "timeout, meta::text, payload::text, state, attempts, locked_by "
                          "from pgrun._private_jobs where id = %s", (job_id,))
    return dict(zip([c.name for c in cursor.description], cursor.fetchone(), strict=True))


def _assert_refused_clearly(error: Exception) -> None:
    event(f"refused: {getattr(error, 'sqlstate', None) or type(error).__name__}")
    if isinstance(error, psycopg.Error):
        assert error.sqlstate in REFUSED, f"unexpected SQLSTATE {error.sqlstate}: {error}"
        assert error.diag.message_primary, error
    else:
        message = str(error)
        assert any(name in message for name in ARGUMENTS), f"the message names no argument: {message!r}"


def _assert_as_given(row: dict, task, queue, key, priority, max_attempts, flags, run_at, timeout, meta,
                     payload) -> None:
    assert row["task_identifier"] == task
    assert row["queue_name"] == queue and row["key"] == key
    assert row["priority"] == (0 if priority is None else priority)
    assert row["max_attempts"] == (25 if max_attempts is None else max_attempts)
    given_flags = [f for f in flags or [] if f is not None]
    assert row["flags"] == ({f: True for f in given_flags} or None)
    if run_at is not None:
        assert row["run_at"] == run_at
    if timeout is not None:
        expected = timeout if isinstance(timeout, timedelta) else timedelta(seconds=timeout)
        assert row["timeout"] == expected
    assert (row["meta"] and canonical_text(row["meta"])) == (meta and canonical(meta))
    assert canonical_text(row["payload"]) == canonical({} if payload is None else payload)
    assert row["state"] in ("available", "scheduled") and row["attempts"] == 0 and row["locked_by"] is None


@examples(200)
@given(task=identifiers, payload=st.one_of(st.none(), json_objects, any_payload), queue=maybe(any_text),
       key=maybe(any_text), priority=maybe(any_int), max_attempts=maybe(any_int),
       flags=maybe(st.lists(maybe(any_text), max_size=4)), run_at=maybe(moments), mode=modes,
       timeout=timeouts, meta=metas)
def test_add_job_adds_what_it_is_given_or_refuses_clearly(conn, task, payload, queue, key, priority,
                                                          max_attempts, flags, run_at, mode, timeout, meta):
    _clear(conn)
    try:
        job = utils.add_job(conn, task, payload, queue_name=queue, job_key=key, priority=priority,
                            max_attempts=max_attempts, flags=flags, run_at=run_at, job_key_mode=mode,
                            timeout=timeout, meta=meta)
    except (ValueError, TypeError, psycopg.Error) as error:
        _assert_refused_clearly(error)
        assert _rows(conn) == 0
        return
    assert _rows(conn) == 1
    event("added")
    _assert_as_given(_stored(conn, job.id), task, queue, key, priority, max_attempts, flags, run_at,
                     timeout, meta, payload)


good_text = st.text(storable_chars, min_size=1, max_size=128)


@examples(150)
@given(task=task_name, payload=st.one_of(st.none(), json_values), queue=maybe(good_text),
       key=maybe(st.text(storable_chars, min_size=1, max_size=512)),
       priority=maybe(st.integers(-32768, 32767)), max_attempts=maybe(st.integers(1, 32767)),
       flags=maybe(st.lists(storable_text, max_size=4)), run_at=maybe(moments),
       mode=st.sampled_from(["replace", "preserve_run_at", "unsafe_dedupe"]),
       timeout=maybe(st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=10**6))),
       meta=maybe(st.dictionaries(storable_text.filter(lambda k: k != "retry"), json_values, max_size=4)))
def test_add_job_with_good_arguments_always_adds_them_exactly(conn, task, payload, queue, key, priority,
                                                              max_attempts, flags, run_at, mode, timeout,
                                                              meta):
    _clear(conn)
    job = utils.add_job(conn, task, payload, queue_name=queue, job_key=key, priority=priority,
                        max_attempts=max_attempts, flags=flags, run_at=run_at, job_key_mode=mode,
                        timeout=timeout, meta=meta)
    _assert_as_given(_stored(conn, job.id), task, queue, key, priority, max_attempts, flags, run_at,
                     timeout, meta, payload)


specs = st.builds(JobSpec, identifier=identifiers, payload=st.one_of(st.none(), json_objects, any_payload),
                  queue_name=maybe(any_text), run_at=maybe(moments), max_attempts=maybe(any_int),
                  job_key=maybe(any_text), priority=maybe(any_int),
                  flags=maybe(st.lists(maybe(any_text), max_size=3)))


@examples(100)
@given(batch=st.lists(specs, min_size=1, max_size=5), preserve=st.booleans())
def test_add_jobs_adds_every_spec_or_none(conn, batch, preserve):
    _clear(conn)
    try:
        jobs = utils.add_jobs(conn, batch, job_key_preserve_run_at=preserve)
    except (ValueError, TypeError, psycopg.Error) as error:
        _assert_refused_clearly(error)
        assert _rows(conn) == 0
        return
    assert len(jobs) == len(batch)
    event("added")
    keys = [spec.job_key for spec in batch if spec.job_key is not None]
    # a key given twice in one batch is one job: the later spec replaced the earlier
    assert _rows(conn) == len(batch) - (len(keys) - len(set(keys)))
    last_of_key = {spec.job_key: index for index, spec in enumerate(batch) if spec.job_key is not None}
    for index, (spec, job) in enumerate(zip(batch, jobs, strict=True)):
        if spec.job_key is not None and last_of_key[spec.job_key] != index:
            continue
        _assert_as_given(_stored(conn, job.id), spec.identifier, spec.queue_name, spec.job_key, spec.priority,
                         spec.max_attempts, spec.flags, None if preserve else spec.run_at, None, None,
                         spec.payload)


# Payloads as JSON text straight to SQL (any client, not only pgrun's Python): text that
# is not JSON, JSON jsonb cannot hold (\u0000, a lone surrogate escape), numbers beyond
# double precision, duplicate keys.
json_texts = st.one_of(
    st.builds(json.dumps, json_values),
    st.sampled_from(['{"a": "\\u0000"}', '["\\ud800"]', '{"a": 1, "a": 2}', "1e999", "-0", "01", "{",
                     "nul", "'x'", '{"a": [1, 2,]}', '"\\x41"', "[" * 3000 + "]" * 3000, "[" * 30000,
                     "[" * 30000 + "]" * 30000, '"' + "x" * 1_100_000 + '"']),
    storable_text.map(lambda text: text.replace("\ufeff", "")),
)


@examples(150)
@given(text=json_texts)
def test_add_job_in_sql_stores_json_text_exactly_or_refuses_it(conn, text):
    _clear(conn)
    try:
        job_id = conn.execute("select id from pgrun.add_job('fuzz', %s::json)", (text,)).fetchone()[0]
    except psycopg.Error as error:
        _assert_refused_clearly(error)
        assert _rows(conn) == 0
        return
    event("added")
    stored = _stored(conn, job_id)["payload"]
    try:
        expected = canonical_text(text)
    except RecursionError:   # too deep for Python's parser: only nested empty arrays are sent so
        assert stored == text, stored[:100]
        return
    assert canonical_text(stored) == expected


def test_invalid_utf8_never_reaches_add_job(conn):
    # bytes that are not UTF-8, sent as they are: the server refuses the statement itself
    for raw in (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"):
        try:
            conn.execute(b"select pgrun.add_job('fuzz', '\"" + raw + b"\"'::json)")
        except psycopg.Error as error:
            assert error.sqlstate == "22021", error   # invalid byte sequence for encoding
        else:
            raise AssertionError(f"{raw!r} was accepted")
    assert _rows(conn) == 0


def test_deep_payloads_are_refused_with_their_reason_at_any_depth(conn):
    for depth in (10, 900, 5_000, 100_000):
        try:
            job = utils.add_job(conn, "fuzz", nested(depth))
        except ValueError as error:
            assert "nested too deeply" in str(error), error
        except psycopg.Error as error:
            assert error.sqlstate == "54001", error   # stack depth limit exceeded
        else:
            assert json.loads(_stored(conn, job.id)["payload"]) == nested(depth)
    with conn.cursor() as cursor:   # the database's own limit, from JSON text
        try:
            cursor.execute("select pgrun.add_job('fuzz', %s::json)", ("[" * 50_000 + "]" * 50_000,))
        except psycopg.Error as error:
            assert error.sqlstate == "54001", error
        else:
            raise AssertionError("a payload nested 50,000 deep was stored")


# What the fuzzing found, kept as plain regression tests: each failed deep inside psycopg
# (UnicodeEncodeError, DataError, OverflowError) without naming the argument.
@pytest.mark.parametrize(("arguments", "message"), [
    ({"identifier": "a\ud800"}, "identifier cannot contain lone surrogates"),
    ({"identifier": "a\x00b"}, "identifier cannot contain NUL characters"),
    ({"queue_name": "q\udfff"}, "queue_name cannot contain lone surrogates"),
    ({"job_key": "\x00"}, "job_key cannot contain NUL characters"),
    ({"flags": ["ok", "\x00"]}, "flags[1] cannot contain NUL characters"),
    ({"limit_keys": ["hub", "a\x00b"]}, "limit_keys[1] cannot contain NUL characters"),
    ({"limit_keys": "\x00"}, "limit_keys[0] cannot contain NUL characters"),
    ({"limit_keys": ["\udc00"]}, "limit_keys[0] cannot contain lone surrogates"),
    ({"job_key_mode": "\ud800"}, "job_key_mode cannot contain lone surrogates"),
    ({"priority": 2**40}, "priority must be between -32768 and 32767 (got 1099511627776)"),
    ({"max_attempts": -2**31 - 1}, "max_attempts must be between 1 and 32767"),
    ({"timeout": 1e300}, "timeout must be a finite number of seconds"),
    ({"timeout": float("nan")}, "timeout must be a finite number of seconds"),
])
def test_arguments_psycopg_cannot_send_are_refused_by_name(conn, arguments, message):
    arguments = {"identifier": "fuzz", **arguments}
    with pytest.raises(ValueError) as refused:
        utils.add_job(conn, **arguments)
    assert message in str(refused.value)
    if not {"timeout", "job_key_mode"} & arguments.keys():   # add_jobs' specs have no such field
        with pytest.raises(ValueError) as refused:
            utils.add_jobs(conn, [JobSpec("fuzz"), JobSpec(**arguments)])
        assert f"specs[1]: {message}" in str(refused.value)
    assert _rows(conn) == 0


def test_a_payload_too_deep_for_json_is_refused_at_once(conn):
    started = time.monotonic()
    with pytest.raises(ValueError, match="nested too deeply"):
        utils.add_job(conn, "fuzz", nested(100_000))
    assert time.monotonic() - started < 10   # it took 30 s (a path string per level)


def test_a_timeout_given_as_a_timedelta_is_stored_to_the_microsecond(conn):
    # found by the fuzzing: it went through float seconds, and 99,421 days lost a microsecond
    timeout = timedelta(days=99_421, microseconds=1)
    job = utils.add_job(conn, "fuzz", timeout=timeout)
    assert _stored(conn, job.id)["timeout"] == timeout
