"""Reads a crontab line's payload: JSON, plus the JSON5 conveniences that
Graphile Worker crontabs use (it parses payloads with JSON5), so their lines
work here unchanged: unquoted keys (`{onboarding:false}`), single-quoted
strings, trailing commas, comments, hexadecimal numbers, a leading `+` or a
bare leading or trailing decimal point. NaN and Infinity are refused: the
payload becomes PostgreSQL `json`, which cannot hold them.
"""

from __future__ import annotations

import json
import re
from typing import Any

_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
)
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "0": "\0",
            "'": "'", '"': '"', "\\": "\\", "/": "/"}


class RelaxedJSONError(ValueError):
    def __init__(self, reason: str, position: int) -> None:
        super().__init__(f"{reason} at character {position + 1}")


def loads(text: str) -> Any:
    """Parses strict JSON with the standard library, else the relaxed form."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    return _Parser(text).document()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def document(self) -> Any:
        value = self.value()
        self.skip()
        if self.pos < len(self.text):
            self.fail(f"unexpected {self.text[self.pos]!r} after the value")
        return value

    def fail(self, reason: str) -> None:
        raise RelaxedJSONError(reason, self.pos)

    def skip(self) -> None:
        """Skips whitespace and comments."""
        text = self.text
        while self.pos < len(text):
            if text[self.pos].isspace():
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end + 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    self.fail("unterminated comment")
                self.pos = end + 2
            else:
                return

    def value(self) -> Any:
        self.skip()
        if self.pos >= len(self.text):
            self.fail("unexpected end of the payload")
        char = self.text[self.pos]
        if char == "{":
            return self.object()
        if char == "[":
            return self.array()
        if char in "\"'":
            return self.string()
        for word, result in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return result
        match = _NUMBER.match(self.text, self.pos)
        if match:
            self.pos = match.end()
            return _number(match.group())
        if re.match(r"[+-]?(?:Infinity|NaN)", self.text[self.pos:]):
            self.fail("NaN and Infinity cannot be stored in a JSON payload")
        self.fail(f"unexpected {char!r}")

    def object(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        self.pos += 1
        while True:
            self.skip()
            if self.peek() == "}":
                self.pos += 1
                return result
            if self.peek() in ("'", '"'):
                key = self.string()
            else:
                match = _IDENTIFIER.match(self.text, self.pos)
                if not match:
                    self.fail("expected a key or '}'")
                key = match.group()
                self.pos = match.end()
            self.skip()
            if self.peek() != ":":
                self.fail(f"expected ':' after the key {key!r}")
            self.pos += 1
            result[key] = self.value()
            self.skip()
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() != "}":
                self.fail("expected ',' or '}'")

    def array(self) -> list[Any]:
        result: list[Any] = []
        self.pos += 1
        while True:
            self.skip()
            if self.peek() == "]":
                self.pos += 1
                return result
            result.append(self.value())
            self.skip()
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() != "]":
                self.fail("expected ',' or ']'")

    def string(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        parts: list[str] = []
        text = self.text
        while True:
            if self.pos >= len(text):
                self.fail("unterminated string")
            char = text[self.pos]
            if char == quote:
                self.pos += 1
                # \uD83D\uDE00 escapes a surrogate pair: join it into one character
                return "".join(parts).encode("utf-16", "surrogatepass").decode("utf-16")
            if char in "\n\r":
                self.fail("line break inside a string")
            if char == "\\":
                self.pos += 1
                escape = text[self.pos:self.pos + 1]
                if escape == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[self.pos + 1:self.pos + 5]):
                    parts.append(chr(int(text[self.pos + 1:self.pos + 5], 16)))
                    self.pos += 5
                elif escape == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", text[self.pos + 1:self.pos + 3]):
                    parts.append(chr(int(text[self.pos + 1:self.pos + 3], 16)))
                    self.pos += 3
                elif escape in _ESCAPES:
                    parts.append(_ESCAPES[escape])
                    self.pos += 1
                else:
                    self.fail(f"unknown escape \\{escape}")
                continue
            parts.append(char)
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos:self.pos + 1]


def _number(token: str) -> int | float:
    sign = -1 if token.startswith("-") else 1
    digits = token.lstrip("+-")
    if digits[:2] in ("0x", "0X"):
        return sign * int(digits, 16)
    if re.fullmatch(r"\d+", digits):
        return sign * int(digits)
    return sign * float(digits)
