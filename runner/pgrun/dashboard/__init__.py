"""The web dashboard: server-rendered pages over the SQL statistics and admin functions, with
htmx (served from this package) for live updates and actions.

    pgrun dashboard --port 8080 --token s3cret            # binds 127.0.0.1 unless --host
    pgrun dashboard --read-only --hide-payloads --crontab crontab

Or mounted in an ASGI application (Starlette, FastAPI):

    from pgrun.dashboard import create_app
    app.mount("/jobs-admin", create_app("postgresql://...", token="s3cret"))

Pages: `/` (counts by state and task, charts of outcomes per minute, oldest waiting), `/jobs`
(filters by state, task, queue, key and payload text; paged by id; bulk Retry / Cancel /
Remove), `/jobs/<id>` (payload, result, every attempt's error, explain_job's sentence, a
timeline, Retry / Cancel / Remove), `/queues` (Pause / Resume), `/workers`, `/cron`, `/audit`;
each refreshes itself (htmx polls the page's URL and gets its fragment). Every action calls the
SQL function (so it lands in the audit log) and asks for confirmation first. With a token,
every page asks for it (a login form sets a cookie; scripts send `Authorization: Bearer TOKEN`
or basic auth with the token as password). Needs the `dashboard` extra:
`pip install 'pgrun[dashboard]'`.
"""

from __future__ import annotations


def create_app(*args, **kwargs):
    """The dashboard as an ASGI application (`app.create_app`; imported here on first call, so
    that `pgrun` itself runs without the dashboard's dependencies)."""
    from .app import create_app as make

    return make(*args, **kwargs)


__all__ = ["create_app"]
