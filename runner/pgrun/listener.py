"""LISTEN on the schema's channels, on a connection of its own: a notification
on "<schema>:jobs" is a nudge for the fetcher, one on "<schema>:cancel" names a
worker whose running job was cancelled. Both are only hints: the worker polls
too, every claim says when the next job is due, and cancels are asked for."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from . import db
from .backoff import Backoff
from .errors import ConnectionFailed
from .fmt import reason

log = logging.getLogger("pgrun.worker")

RETRYABLE = (*db.CONNECTION_ERRORS, ConnectionFailed)
# The connection is checked with a query after this much silence; TCP
# keepalives notice a dead peer in between.
CHECK_SECONDS = 60.0


class Listener:
    def __init__(self, *, conninfo: str, listen_sql: str, prepare: bool,
                 on_nudge: Callable[[], None], on_wake_at: Callable[[float], None],
                 on_state: Callable[[bool, BaseException | None], None],
                 cancel_channel: str = "", on_cancel: Callable[[str], None] | None = None) -> None:
        self._conninfo = conninfo
        self._listen_sql = listen_sql
        self._cancel_channel = cancel_channel
        self._on_cancel = on_cancel        # (worker id the cancel names)
        self._prepare = prepare
        self._on_nudge = on_nudge
        self._on_wake_at = on_wake_at
        self._on_state = on_state          # (listening, error)
        self.listening = asyncio.Event()
        self.conn: db.AsyncConnection | None = None   # while connected

    async def run(self) -> None:
        backoff = Backoff(0.25, 10.0)
        lost = False
        while True:
            conn = None
            try:
                conn = self.conn = await db.connect_async(self._conninfo, **db.connection_kwargs(
                    self._prepare, conninfo=self._conninfo, application_name="pgrun listener"))
                await conn.execute(self._listen_sql)
                (log.info if lost else log.debug)("listening for new jobs%s", " again" if lost else "")
                self.listening.set()
                self._on_state(True, None)
                lost = False
                backoff.reset()
                self._on_nudge()  # whatever was added while we were not listening
                while True:
                    async for notification in conn.notifies(timeout=CHECK_SECONDS):
                        if notification.channel == self._cancel_channel and self._on_cancel is not None:
                            self._on_cancel(notification.payload)
                        else:
                            self._on_notification(notification.payload)
                    await conn.execute("select 1")  # silent for a while: is the line still alive?
            except Exception as error:  # a pooler's error or a bug too: keep listening
                lost = True
                self.listening.clear()
                delay = backoff.next()
                if isinstance(error, RETRYABLE):
                    log.warning("LISTEN connection lost (%s); reconnecting in %.1f s (polling meanwhile)",
                                reason(error), delay)
                else:
                    log.error("LISTEN connection failed (%s); reconnecting in %.1f s (polling meanwhile)",
                              reason(error), delay, exc_info=error)
                self._on_state(False, error)
                await asyncio.sleep(delay)
            finally:
                self.conn = None
                if conn is not None and not conn.closed:
                    try:
                        await conn.close()
                    except Exception:
                        pass

    def _on_notification(self, payload: str) -> None:
        """Empty: look now. Epoch seconds (schema 1's senders, scripts): a job is due then."""
        if payload:
            try:
                due = float(payload)
            except ValueError:
                due = 0.0
            if due > time.time():
                self._on_wake_at(due - time.time())
                return
        self._on_nudge()
