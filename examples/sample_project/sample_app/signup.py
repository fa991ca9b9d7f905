"""The sample application's code that enqueues: a sign-up sends a welcome email."""

from __future__ import annotations

import pgrun

from .tasks import WELCOME, Welcome


def sign_up(conn, email: str, name: str) -> int:
    """Signs a user up on the application's psycopg connection (in its transaction, if one is
    open: then the job exists only if it commits); returns the welcome job's id."""
    return pgrun.add_job(conn, WELCOME, Welcome(to=email, name=name)).id
