"""Log setup for the `pgrun` command (embedders configure logging themselves).

Lines go to stderr as `time LEVEL logger: message`; a job's lines carry
`job_id` and `task` in the record's extras for handlers that want fields.
"""

from __future__ import annotations

import logging
import sys

LEVELS = ("debug", "info", "warning", "error")
FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s"


def setup_logging(level: str = "info", stream=None) -> None:
    numeric = getattr(logging, level.upper())
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # psycopg's pool narrates reconnections at INFO; the runner says what matters itself.
    logging.getLogger("psycopg").setLevel(max(numeric, logging.WARNING))
