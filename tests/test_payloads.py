"""One payload serialiser for every way of adding a job (issue 8, faults 14 and 15)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

import pgrun
from pgrun import JobSpec, WorkerUtils, db, payloads
from pgrun.payloads import encode

WHEN = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
RICH = {
    "when": WHEN, "day": date(2024, 5, 6), "at": time(7, 8), "id": uuid.UUID(int=42),
    "amount": Decimal("10.50"), "pair": (1, 2), "text": "héllo ✓", "nested": [{"n": None, "b": True}],
}
RICH_JSON = {
    "when": "2024-05-06T07:08:09.123456+00:00", "day": "2024-05-06", "at": "07:08:00",
    "id": "00000000-0000-0000-0000-00000000002a", "amount": "10.50", "pair": [1, 2],
    "text": "héllo ✓", "nested": [{"n": None, "b": True}],
}


def stored(conn, job_id: int):
    return conn.execute("select payload from pgrun.jobs where id = %s", (job_id,)).fetchone()[0]


# ------------------------------------------------------------- the encoder


def test_encode_writes_what_json_lacks_as_strings():
    assert json.loads(encode(RICH)) == RICH_JSON


@pytest.mark.parametrize(("payload", "error", "words"), [
    ({"tags": {"a", "b"}}, TypeError, "payload['tags'] is of type set"),
    ({"items": [1, object()]}, TypeError, "payload['items'][1] is of type object"),
    ({"blob": b"x"}, TypeError, "payload['blob'] is of type bytes"),
    ({"x": float("nan")}, ValueError, "payload['x'] is nan"),
    ({"x": [float("inf")]}, ValueError, "payload['x'][0] is inf"),
    ({(1, 2): 3}, TypeError, "JSON object keys must be str"),
])
def test_encode_refuses_what_json_cannot_hold_and_says_where(payload, error, words):
    with pytest.raises(error, match=re.escape(words)):
        encode(payload)


def test_encode_refuses_circular_references():
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="circular reference"):
        encode({"loop": loop})


NUL = "payloads cannot contain NUL characters: PostgreSQL's jsonb cannot store \\u0000"


@pytest.mark.parametrize(("payload", "where"), [
    ({"token": "ab\x00cd"}, "payload['token']"),
    ({"a": [{"b": "\x00"}]}, "payload['a'][0]['b']"),
    ({"key\x00": 1}, "a key of payload"),
    ("\x00", "payload"),
])
def test_encode_refuses_nul(payload, where):
    with pytest.raises(ValueError) as caught:
        encode(payload)
    assert str(caught.value) == f"{NUL} (found in {where})"


@pytest.mark.parametrize("payload", [{"s": "a\ud800b"}, {"s": ["\udfff"]}, {"\ud83d": 1}])
def test_encode_refuses_lone_surrogates(payload):
    with pytest.raises(ValueError, match="lone surrogates"):
        encode(payload)


def test_an_escaped_backslash_before_u0000_is_just_text():
    assert json.loads(encode({"path": "C:\\u0000"})) == {"path": "C:\\u0000"}


# ------------------------------------------------ every path, the same JSON


def test_decode_all_reads_many_json_texts_in_one_call_or_one_by_one_when_large(monkeypatch):
    texts = ['{"a": [1, 2.5, null]}', '"\\ud800 lone"', "true", '{"k": "\\u00e9"}']
    expected = [json.loads(t) for t in texts]
    assert payloads.decode_all(texts) == expected
    monkeypatch.setattr(payloads, "DECODE_JOINED_MAX_CHARS", 10)
    assert payloads.decode_all(texts) == expected
    assert payloads.decode_all([]) == []


def test_bigint_array_is_the_text_of_a_bigint_array_parameter(conn):
    assert db.bigint_array([]) == "{}"
    values = [1, -2, 9_223_372_036_854_775_807, None]
    assert conn.execute("select %s::bigint[]", (db.bigint_array(values),)).fetchone()[0] == values


def test_a_datetime_payload_is_accepted_by_add_job_and_add_jobs_alike(dsn, conn):
    """Fault 14: add_job refused a datetime that add_jobs accepted."""
    with WorkerUtils(dsn) as utils:
        one = utils.add_job("t", RICH)
        many = utils.add_jobs([JobSpec("t", RICH), JobSpec("t", {"plain": 1})])
    on_conn = pgrun.add_job(conn, "t", RICH)
    [on_conn_many] = pgrun.add_jobs(conn, [JobSpec("t", RICH)])

    async def async_paths():
        async with pgrun.AsyncWorkerUtils(dsn) as utils:
            return [await utils.add_job("t", RICH), *(await utils.add_jobs([JobSpec("t", RICH)]))]

    from_async = asyncio.run(async_paths())
    for job in (one, many[0], on_conn, on_conn_many, *from_async):
        assert job.payload == RICH_JSON
        assert stored(conn, job.id) == RICH_JSON
    # the same text: jsonb normalises, so compare what PostgreSQL holds as text too
    texts = {conn.execute("select payload::text from pgrun.jobs where id = %s", (job.id,)).fetchone()[0]
             for job in (one, many[0], on_conn, on_conn_many, *from_async)}
    assert len(texts) == 1
    assert many[1].payload == {"plain": 1}


def test_no_payload_is_an_empty_object_on_both_paths(dsn):
    with WorkerUtils(dsn) as utils:
        assert utils.add_job("t").payload == {}
        assert [job.payload for job in utils.add_jobs([JobSpec("t")])] == [{}]


@pytest.mark.parametrize(("payload", "message"), [
    ({"token": "ab\x00cd"}, NUL),
    ({"s": "a\ud800b"}, "lone surrogates"),
    ({"tags": {1}}, "is of type set"),
])
def test_bad_payloads_are_refused_before_anything_is_sent_on_both_paths(dsn, conn, payload, message):
    error = TypeError if isinstance(payload.get("tags"), set) else ValueError
    with WorkerUtils(dsn) as utils:
        with pytest.raises(error) as single:
            utils.add_job("t", payload)
        with pytest.raises(error) as batch:
            utils.add_jobs([JobSpec("t", {"ok": 1}), JobSpec("t", payload)])
    assert message in str(single.value)
    assert message in str(batch.value)
    assert str(batch.value).startswith("specs[1]: ")
    with pytest.raises(error):
        pgrun.add_job(conn, "t", payload)

    async def on_async():
        async with pgrun.AsyncWorkerUtils(dsn) as utils:
            with pytest.raises(error):
                await utils.add_job("t", payload)
            with pytest.raises(error):
                await utils.add_jobs([JobSpec("t", payload)])

    asyncio.run(on_async())
    assert conn.execute("select count(*) from pgrun.jobs").fetchone()[0] == 0


# ------------------------------------------------------- add_jobs' answer


def test_add_jobs_answers_in_spec_order(dsn, conn):
    """Fault 15: one row per spec, in the order of the specs, on every SQL path."""
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    with WorkerUtils(dsn) as utils:
        # keyed jobs whose keys sort the other way round from the specs; one key exists already
        utils.add_job("t", {"n": "old"}, job_key="k1")
        keyed = [JobSpec("t", {"n": i}, job_key=f"k{9 - i}", run_at=later if i % 2 else None)
                 for i in range(9)]
        answer = utils.add_jobs(keyed)
        assert [job.payload["n"] for job in answer] == list(range(9))
        assert [job.key for job in answer] == [f"k{9 - i}" for i in range(9)]
        assert [job.state for job in answer] == ["scheduled" if i % 2 else "available" for i in range(9)]
        # the same key twice (add_job one by one), mixed with unkeyed specs
        repeated = [JobSpec("t", {"n": 0}, job_key="z"), JobSpec("t", {"n": 1}),
                    JobSpec("t", {"n": 2}, job_key="a"), JobSpec("t", {"n": 3}, job_key="z")]
        answer = utils.add_jobs(repeated)
        assert [job.payload["n"] for job in answer] == [0, 1, 2, 3]  # each as its spec left it
        assert [job.key for job in answer] == ["z", None, "a", "z"]
        assert answer[0].id == answer[3].id
        # no keys at all
        plain = utils.add_jobs([JobSpec(f"t{i}", {"n": i}) for i in (5, 3, 8, 1)])
        assert [job.task_identifier for job in plain] == ["t5", "t3", "t8", "t1"]


def test_utilities_report_the_state_of_the_jobs_they_return(dsn):
    with WorkerUtils(dsn) as utils:
        now = utils.add_job("t")
        later = utils.add_job("t", run_at=datetime.now(timezone.utc) + timedelta(hours=1))
        assert (now.state, later.state) == ("available", "scheduled")
        [failed] = utils.permanently_fail_jobs([now.id], "no")
        assert failed.state == "failed"
        [moved] = utils.reschedule_jobs([later.id], run_at=datetime.now(timezone.utc))
        assert moved.state == "available"
