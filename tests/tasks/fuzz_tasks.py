"""Tasks for the fuzz test of a real worker (tests/test_fuzz_worker.py): each does what
its payload says, with values the test made up."""

from __future__ import annotations

import json

from pgrun import task


class _BrokenStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("this exception cannot be written as text")


@task("fuzz.echo")
async def echo(payload, helpers):
    """Records the payload it was given, as JSON text, in pgrun_test_results."""
    async with helpers.connection() as conn:
        await conn.execute("insert into pgrun_test_results (job_id, task, attempt, note) "
                           "values (%s, %s, %s, %s)", (helpers.job.id, helpers.job.task_identifier,
                                                       helpers.job.attempts, json.dumps(payload)))


@task("fuzz.raise")
def raise_text(payload, helpers):
    """Fails with the text of payload['codepoints'] (NUL and lone surrogates included)."""
    raise RuntimeError("".join(map(chr, payload["codepoints"])))


@task("fuzz.broken_str")
def broken_str(payload, helpers):
    """Fails with an exception whose str() itself raises."""
    raise _BrokenStr()


@task("fuzz.returns")
def returns(payload, helpers):
    """Returns a value JSON cannot hold (payload['kind']), or payload['value'] as it is."""
    unstorable = {"nan": float("nan"), "set": {1, 2}, "object": object()}
    return unstorable.get(payload.get("kind"), payload.get("value"))
