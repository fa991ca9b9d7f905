"""Text that PostgreSQL will store: error messages come from anywhere.

A handler's exception can carry a NUL byte (which `text` cannot hold) or a
lone surrogate (which is not UTF-8); either would make the write fail, and a
failure that cannot be recorded would come back on every attempt.
"""

from __future__ import annotations

import traceback

# The SQL keeps at most this much of last_error (setting last_error_max_chars);
# sending more only costs bandwidth.
MAX_ERROR_CHARS = 16_000


def storable(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """`text` with NUL written as \\x00, lone surrogates as \\udXXX, and cut to `limit`."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > limit:
        cut = len(text) - limit + 40
        text = text[: limit - 40] + f"\n... [{cut} characters cut]"
    return text


def error_text(error: BaseException) -> str:
    """What goes into last_error: the error on the first line, then the traceback."""
    try:
        message = str(error)
    except Exception as broken:  # an exception whose __str__ raises
        message = f"<str() of the error raised {type(broken).__name__}>"
    first = f"{type(error).__name__}: {message}" if message else type(error).__name__
    try:
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    except Exception:
        trace = ""
    return storable(first + "\n" + trace)


def summary(message: str) -> str:
    """The first line of a stored error, for a log line."""
    return message.splitlines()[0] if message else "error"
