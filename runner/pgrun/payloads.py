"""The one payload serialiser: what every way of adding a job sends as its payload.

`encode(payload)` returns JSON text, which the SQL receives as `%s::json`. Beyond what
`json` takes as is (dict, list, tuple, str, int, float, bool, None) it writes:

- `datetime`, `date` and `time` as ISO 8601 strings (`value.isoformat()`),
- `UUID` and `Decimal` as strings,
- a pydantic model as its `model_dump(mode="json")`, a dataclass instance as its fields
  (typed payloads, pgrun.typed).

It refuses, with the path of the bad value (`payload['items'][2]`):

- sets (TypeError: they have no order; pass a sorted list),
- any other type (TypeError naming it),
- NaN and infinities (ValueError: JSON has no such numbers),
- NUL characters and lone surrogates in strings or keys (ValueError: the payload column
  is jsonb, which cannot store either),
- circular references (ValueError).

The common case costs one `json.dumps` and one UTF-8 check; the value is walked only to
explain a refusal.
"""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

__all__ = ["NUL_MESSAGE", "SURROGATE_MESSAGE", "Unreadable", "decode_all", "encode"]

NUL_MESSAGE = "payloads cannot contain NUL characters: PostgreSQL's jsonb cannot store \\u0000"
SURROGATE_MESSAGE = ("payloads cannot contain lone surrogates (U+D800 to U+DFFF): "
                     "they are not valid Unicode and PostgreSQL's jsonb cannot store them")

_AS_ISO = (datetime, date, time)
_AS_STR = (UUID, Decimal)
_KEY_TYPES = (str, int, float, bool, type(None))


def _default(value: Any) -> Any:
    if isinstance(value, _AS_ISO):
        return value.isoformat()
    if isinstance(value, _AS_STR):
        return str(value)
    dumped = _model_fields(value)
    if dumped is not None:
        return dumped
    raise TypeError(_type_message(value, "payload"))


def _model_fields(value: Any) -> Any:
    """A pydantic model's or a dataclass instance's JSON form; None for anything else."""
    if hasattr(type(value), "__pydantic_fields__") and hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in fields(value)}
    return None


# Above this many characters in all, payloads are decoded one by one: joining them would
# hold a second copy of every one at once.
DECODE_JOINED_MAX_CHARS = 1 << 20


class Unreadable:
    """A JSON value PostgreSQL holds that Python's json cannot read back: nested deeper than
    Python's recursion limit, or an integer of more than 4,300 digits (jsonb keeps 1e5000 as
    its digits). The job fails for good with `reason`; raised from the claim instead, it
    stopped every worker that claimed it, and the jobs claimed beside it too."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Unreadable({self.reason!r})"


def decode_all(texts: list[str]) -> list[Any]:
    """The values of many JSON texts (as PostgreSQL writes jsonb: each valid JSON), decoded in
    one call when they are small: a call per text costs more than the parsing. A text Python
    cannot read gives an Unreadable, and the others their values."""
    try:
        if sum(map(len, texts)) > DECODE_JOINED_MAX_CHARS:
            return [json.loads(text) for text in texts]
        return json.loads("[" + ",".join(texts) + "]")
    except (ValueError, RecursionError):
        return [_decode_one(text) for text in texts]


def _decode_one(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        return Unreadable("it is nested deeper than Python's json module can read")
    except ValueError as error:   # an integer beyond sys.get_int_max_str_digits()
        return Unreadable(str(error))


def encode_all(values: list[Any]) -> str | None:
    """Many values (add_jobs' specs, payloads inside) as one JSON array in one pass, by the
    same rules as `encode`; None when something in them is refused (then encode each, to
    say which and why)."""
    try:
        text = json.dumps(values, default=_default, ensure_ascii=False, allow_nan=False,
                          separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return None
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return None
    return None if "\\u0000" in text else text


def encode(payload: Any, *, where: str = "payload") -> str:
    """`payload` as JSON text for a jsonb column; raises TypeError or ValueError (see the
    module's docstring). `where` names the value in messages."""
    try:
        text = json.dumps(payload, default=_default, ensure_ascii=False, allow_nan=False,
                          separators=(",", ":"))
    except RecursionError:
        # json.dumps recurses once per level. Not explained: _explain's paths grow with the
        # depth, and writing them for 100,000 levels took 30 s.
        raise ValueError(f"{where} is nested too deeply to encode (deeper than Python's recursion "
                         "limit allows)") from None
    except (TypeError, ValueError) as error:
        _explain(payload, where)
        raise type(error)(f"{where} is not JSON-serialisable: {error}") from None
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            _explain(payload, where)
            raise ValueError(SURROGATE_MESSAGE) from None
    # json escapes NUL as \u0000; the text may also hold an escaped backslash before
    # "u0000", so only the walk can tell.
    if "\\u0000" in text:
        _explain(payload, where)
    return text


# ---------------------------------------------------------------- refusals


def _type_message(value: Any, path: str) -> str:
    kind = type(value)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    if isinstance(value, set | frozenset):
        return (f"{path} is of type {name}, which JSON cannot represent (it has no order): "
                "pass a list, e.g. sorted(...)")
    return (f"{path} is of type {name}, which pgrun cannot put in a JSON payload "
            "(it takes dict, list, tuple, str, int, float, bool, None, datetime, date, time, "
            "UUID and Decimal): convert it first")


def _check_text(text: str, path: str) -> None:
    if "\x00" in text:
        raise ValueError(f"{NUL_MESSAGE} (found in {path})")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{SURROGATE_MESSAGE} (found in {path})") from None


def _explain(value: Any, path: str) -> None:
    """Raises the error for the first value that `encode` refuses; returns if none."""
    stack: list[tuple[Any, str, bool]] = [(value, path, False)]
    open_containers: set[int] = set()
    while stack:
        item, where, leaving = stack.pop()
        if leaving:
            open_containers.discard(id(item))
            continue
        if isinstance(item, str):
            _check_text(item, where)
        elif item is None or isinstance(item, bool | int):
            continue
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                raise ValueError(f"{where} is {item!r}, which JSON cannot represent")
        elif isinstance(item, dict | list | tuple):
            if id(item) in open_containers:
                raise ValueError(f"{where} refers back to a value that contains it (a circular reference)")
            open_containers.add(id(item))
            stack.append((item, where, True))
            children = []
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, _KEY_TYPES):
                        raise TypeError(f"{where} has a key of type {type(key).__qualname__} ({key!r}); "
                                        "JSON object keys must be str, int, float, bool or None")
                    if isinstance(key, str):
                        _check_text(key, f"a key of {where}")
                    children.append((child, f"{where}[{key!r}]", False))
            else:
                children = [(child, f"{where}[{i}]", False) for i, child in enumerate(item)]
            stack.extend(reversed(children))
        elif isinstance(item, _AS_ISO + _AS_STR):
            continue
        elif _model_fields(item) is not None:
            stack.append((_model_fields(item), where, False))
        else:
            raise TypeError(_type_message(item, where))
