"""Fuzzing a real worker process (issue 12): payloads and error messages made up by
hypothesis, run by one `pgrun` process for the whole test.

Each example adds a batch of jobs in SQL: payloads of every JSON shape (huge strings,
deep nesting, numbers Python cannot read back), handlers that fail with any text (NUL,
lone surrogates, 100,000 characters), whose error cannot be written as text, or that
return what JSON cannot hold. Every job must end: an echo job completed with the payload
its handler was given equal to the one stored, a failing job failed with its message
stored as pgrun.text.storable writes it, an unreadable payload failed for good saying
why; and the worker must still be running and working afterwards. Example counts and the
long profile: tests/fuzz_support.py.
"""

from __future__ import annotations

import json

from hypothesis import example, given
from hypothesis import strategies as st

from fuzz_support import canonical_text, examples, json_values
from pgrun.text import storable
from support import scalar, wait_until

FINAL_SECONDS = 90   # a loaded machine; the jobs themselves take milliseconds

payload_texts = st.one_of(
    st.builds(json.dumps, json_values),
    st.sampled_from([json.dumps("x" * 900_000), "[" * 800 + "]" * 800,
                     '{"deep": ' + "[" * 3000 + "]" * 3000 + "}", '{"n": 1e5000}',
                     '{"n": -0.0, "m": 1e-320, "k": 123456789012345678901234567890}']),
)
codepoints = st.one_of(st.lists(st.integers(0, 0x10FFFF), max_size=60),
                       st.sampled_from([[0], [0xD800], [0xDFFF, 0, 0xD800], [0x41] * 100_000]))
jobs = st.one_of(
    st.tuples(st.just("fuzz.echo"), payload_texts),
    st.tuples(st.just("fuzz.raise"), codepoints.map(lambda c: json.dumps({"codepoints": c}))),
    st.tuples(st.just("fuzz.broken_str"), st.just("{}")),
    st.tuples(st.just("fuzz.returns"), st.one_of(
        st.sampled_from(["nan", "set", "object"]).map(lambda k: json.dumps({"kind": k})),
        st.builds(lambda v: json.dumps({"value": v}), json_values))),
)

# Always run once, whatever hypothesis draws: payloads Python cannot read, beside good ones
# in the same claim, and messages PostgreSQL cannot store as they are.
POISON = [("fuzz.echo", '{"deep": ' + "[" * 3000 + "]" * 3000 + "}"), ("fuzz.echo", '{"n": 1e5000}'),
          ("fuzz.echo", '{"fine": true}'), ("fuzz.raise", json.dumps({"codepoints": [0x41, 0, 0xD800]})),
          ("fuzz.broken_str", "{}"), ("fuzz.returns", '{"kind": "nan"}'), ("fuzz.echo", '{"also": "fine"}')]


def _expected_error(task: str, payload: dict) -> str:
    if task == "fuzz.raise":
        message = "".join(map(chr, payload["codepoints"]))
        return storable(f"RuntimeError: {message}" if message else "RuntimeError")[:2000]
    if task == "fuzz.broken_str":
        return "_BrokenStr: <str() of the error raised RuntimeError>"
    return "TypeError: the handler returned a value that cannot be stored as JSON"


def _readable(text: str) -> bool:
    """Whether Python's json reads back what jsonb writes for `text` (jsonb keeps 1e5000 as
    5,001 digits, beyond Python's 4,300)."""
    try:
        json.loads(text.replace("1e5000", "1" + "0" * 5000))
    except (RecursionError, ValueError):
        return False
    return True


def test_a_worker_runs_fuzzed_payloads_and_errors_and_survives(recording_workers, conn):
    worker = recording_workers.start("--tasks", "tasks.fuzz_tasks", "--concurrency", "4")

    @examples(12)
    @given(batch=st.lists(jobs, min_size=1, max_size=8))
    @example(batch=POISON)
    def run_batch(batch):
        conn.execute("delete from pgrun_test_results")
        ids = [scalar(conn, "select id from pgrun.add_job(%s, %s::json, max_attempts => 1)", job)
               for job in batch]
        wait_until(lambda: not scalar(conn, "select count(*) from pgrun._private_jobs where id = any(%s) "
                                            "and state not in ('failed', 'completed')", (ids,)),
                   timeout=FINAL_SECONDS, message=f"jobs {ids} to end")
        assert worker.proc.poll() is None, worker.output[-3000:]
        echoed = dict(conn.execute("select job_id, note from pgrun_test_results").fetchall())
        for job_id, (task, text) in zip(ids, batch, strict=True):
            row = conn.execute("select state, last_error from pgrun._private_jobs where id = %s",
                               (job_id,)).fetchone()
            if not _readable(text):
                assert row[0] == "failed" and "payload cannot be read by Python" in row[1], row
            elif task == "fuzz.echo" or (task == "fuzz.returns" and '"value"' in text):
                assert row is None, row   # completed jobs leave at once
                if task == "fuzz.echo":
                    assert canonical_text(echoed[job_id]) == canonical_text(text)
            else:
                assert row[0] == "failed", row
                expected = _expected_error(task, json.loads(text))
                assert row[1].startswith(expected), (row[1][:300], expected[:300])

    run_batch()
    job_id = scalar(conn, "select id from pgrun.add_job('fuzz.echo', '{\"after\": true}')")
    wait_until(lambda: scalar(conn, "select count(*) from pgrun_test_results where job_id = %s", (job_id,)),
               timeout=FINAL_SECONDS, message="a job after the fuzzing to run")
    assert worker.proc.poll() is None, worker.output[-3000:]
    assert not [line for line in worker.lines if "worker stopped on an error" in line]
