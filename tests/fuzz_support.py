"""Hypothesis settings and strategies for the fuzz tests (tests/test_fuzz_*.py).

Two profiles, chosen by PGRUN_FUZZ_PROFILE:

  pgrun       (the default, make test) few enough examples that every fuzz file together
              stays under a minute on a loaded 2-core machine;
  pgrun-long  (PGRUN_FUZZ_PROFILE=pgrun-long) 20 times as many, for a run of its own:
              PGRUN_FUZZ_PROFILE=pgrun-long .venv/bin/python -m pytest tests/test_fuzz_*.py

Neither has a deadline (the machine is shared: an example's time says nothing), and
neither keeps an example database: a failure prints the example that reproduces it.
Each test sets its own example count as a fraction of the profile's (`examples(n)`).
"""

from __future__ import annotations

import json
import os
import string
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

_SUPPRESSED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("pgrun", deadline=None, database=None, suppress_health_check=_SUPPRESSED,
                          max_examples=100)
settings.register_profile("pgrun-long", deadline=None, database=None, suppress_health_check=_SUPPRESSED,
                          max_examples=2000)
PROFILE = os.environ.get("PGRUN_FUZZ_PROFILE", "pgrun")
settings.load_profile(PROFILE)


def examples(default: int) -> settings:
    """`default` examples under the default profile, 20 times as many under pgrun-long."""
    return settings(max_examples=default * (20 if PROFILE == "pgrun-long" else 1))


# Text of every kind: any code point, lone surrogates and NUL included, and a few that
# have broken parsers and quoting before.
SPECIAL_TEXT = ["", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "\\u0000", "\\", "'", '"', "%s", "%(x)s",
                "{}", "[]", "null", "'; drop table pgrun._private_jobs; --", "\u2028", "\ufeff", "🙂" * 3,
                "é" * 129, "a" * 128, "a" * 129, "k" * 512, "k" * 513]
any_text = st.one_of(
    st.sampled_from(SPECIAL_TEXT),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=40),
    st.text(string.printable, max_size=200),
)
storable_chars = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
storable_text = st.text(storable_chars, max_size=60)
task_name = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.:/-]{0,40}", fullmatch=True)

# Whole numbers around every edge the columns have (smallint, integer, bigint) and beyond.
EDGES = [0, 1, -1, 32767, 32768, -32768, -32769, 2**31 - 1, 2**31, -2**31, -2**31 - 1, 2**63, -2**63 - 1]
any_int = st.one_of(st.sampled_from(EDGES), st.integers(-40000, 40000), st.integers())

# Moments PostgreSQL and Python both hold, in assorted zones.
zones = st.sampled_from([timezone.utc, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12)),
                         timezone(timedelta(hours=5, minutes=45))])
moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones)

# JSON values: what json.loads gives back (no NaN, no infinities, no surrogates, no NUL).
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**80, 2**80),
                         st.floats(allow_nan=False, allow_infinity=False), storable_text)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(storable_text, inner, max_size=5)), max_leaves=25)
json_objects = st.dictionaries(storable_text, json_values, max_size=6)

# Python values a payload may be given as, bad ones included: NaN, infinities, NUL and lone
# surrogates in strings and keys, sets, bytes, objects of no JSON kind.
bad_scalars = st.one_of(st.just(float("nan")), st.just(float("inf")), st.sampled_from(["\x00", "a\ud800"]),
                        st.builds(set), st.just(b"bytes"), st.just(object()))
any_payload = st.recursive(st.one_of(json_scalars, bad_scalars), lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(any_text, inner, max_size=4)), max_leaves=12)


def nested(depth: int) -> list:
    """A list holding a list ... `depth` levels down, built without recursion."""
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def canonical_text(text: str) -> object:
    """JSON text as it compares after a trip through jsonb: numbers by their decimal value
    (jsonb keeps a number as JSON text wrote it: 1e999 comes back as an integer of 1,000
    digits, the same number, which json.loads would read as an infinity), booleans apart
    from numbers (Decimal(1) == True would blur them)."""
    return _tagged(json.loads(text, parse_float=Decimal, parse_int=Decimal))


def canonical(value: object) -> object:
    """A Python value as it compares after a trip through jsonb (tuples are lists, ...)."""
    return canonical_text(json.dumps(value))


def _tagged(value: object) -> object:
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, dict):
        return {key: _tagged(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_tagged(item) for item in value]
    return value
