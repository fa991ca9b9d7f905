"""Metrics and health for a worker: `pgrun --tasks app.tasks --metrics-port 9100` serves

    /metrics        Prometheus text format (prometheus-client)
    /health/live    200 while the worker's event loop answers and the worker has not died
    /health/ready   200 once it is migrated and registered, its LISTEN connection is up and
                    the database answered its last statistics query; else 503 and why

What it exports (docs/operations.md has the list with alert rules):
- from this worker's events: handler outcomes by task (`pgrun_jobs_total{task, outcome}`:
  completed, failed, snoozed), timeouts, jobs that failed for good, handler durations
  (`pgrun_job_duration_seconds`), jobs running now;
- from SQL `job_counts` (queue-wide, every worker sees the same): jobs by task, queue and
  state, the oldest available job's wait, and how old that count is. Read at most every
  `refresh` seconds on a connection of the exporter's own, never per job or per scrape;
- from SQL `list_limits` (flow control), read at most every LIMITS_EVERY seconds: each limit
  key's running jobs, `max_running`, room and waiting jobs, and whether a `RateLimited` pause
  holds it, for the LIMITS_SHOWN keys with the most waiting jobs (a label per key: tenants by
  the thousand would swamp a Prometheus server);
- liveness: `pgrun_worker_up`, `pgrun_worker_ready`, `pgrun_worker_listening`.

The HTTP server runs on the worker's event loop (asyncio), so a loop that is stuck fails the
liveness probe as it should. It binds 127.0.0.1 unless told otherwise.

    server = await serve_metrics(worker, port=9100)   # before or after worker.start()
    ...
    await server.close()
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from . import db
from .fmt import reason
from .queries import COUNT_COLUMNS, LIMIT_COLUMNS, column_names

log = logging.getLogger("pgrun.metrics")

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
_OUTCOMES = {"job:success": "completed", "job:error": "failed", "job:snooze": "snoozed"}
LIMITS_EVERY = 30.0   # seconds between reads of list_limits, which counts each key's waiting jobs
LIMITS_SHOWN = 200


class _QueueStats:
    """The last `job_counts` rows, refreshed by `run()`; a Prometheus collector of them and of
    the worker's state."""

    def __init__(self, worker, refresh: float) -> None:
        self._worker = worker
        self.refresh = refresh
        self.rows: list[dict] = []
        self.limits: list[dict] = []         # list_limits' rows, most waiting first
        self._limits_at: float | None = None
        self.ok_at: float | None = None      # monotonic time of the last successful read
        self.error: str | None = None        # why the last read failed (None: it did not)
        self.started = False                 # migrated and registered (worker:start)
        self.stopped = False

    def connected(self) -> bool:
        return (self.error is None and self.ok_at is not None
                and time.monotonic() - self.ok_at < 3 * self.refresh + 5)

    def ready(self) -> tuple[bool, str]:
        missing = [what for what, ok in (("not started (migrating or registering)", self.started),
                                         ("stopping", not self._worker.stopping),
                                         ("LISTEN connection down", self._worker.listening),
                                         (f"database not answering ({self.error or 'no answer yet'})",
                                          self.connected())) if not ok]
        return (not missing, "; ".join(missing) or "ready")

    async def run(self) -> None:
        conn = None
        sql = self._worker.queries.job_counts
        names = column_names(COUNT_COLUMNS)
        try:
            while not self.stopped:
                try:
                    if conn is None or conn.closed:
                        conn = await db.connect_async(self._worker.conninfo, **db.connection_kwargs(
                            self._worker.prepare, conninfo=self._worker.conninfo,
                            application_name="pgrun-metrics"))
                    cursor = await conn.execute(sql, (False,))
                    self.rows = [dict(zip(names, row, strict=True)) for row in await cursor.fetchall()]
                    self.ok_at, self.error = time.monotonic(), None
                    await self._read_limits(conn)
                except Exception as error:  # noqa: BLE001 - the exporter outlives the database
                    self.error = reason(error)
                    log.debug("queue statistics not read: %s", self.error)
                    if conn is not None:
                        await conn.close()
                        conn = None
                await asyncio.sleep(self.refresh)
        finally:
            if conn is not None:
                await conn.close()

    async def _read_limits(self, conn) -> None:
        if self._limits_at is not None and time.monotonic() - self._limits_at < LIMITS_EVERY:
            return
        self._limits_at = time.monotonic()
        cursor = await conn.execute(self._worker.queries.list_limits)
        names = column_names(LIMIT_COLUMNS)
        found = [dict(zip(names, row, strict=True)) for row in await cursor.fetchall()]
        keys = [row for row in found if row["running"] is not None]   # not the patterns' own rows
        self.limits = sorted(keys, key=lambda row: -(row["waiting"] or 0))[:LIMITS_SHOWN]

    def _limit_families(self):
        families = {name: GaugeMetricFamily(f"pgrun_limit_{name}", text, labels=["key"]) for name, text in (
            ("running", "jobs of a limit key running now"),
            ("max_running", "a limit key's max_running (absent: none)"),
            ("room", "how many more jobs of a limit key may start now"),
            ("waiting", "available jobs waiting under a limit key"),
            ("paused", "1 while a RateLimited pause holds a limit key"))}
        for row in self.limits:
            key = [row["key"]]
            families["running"].add_metric(key, row["running"])
            if row["max_running"] is not None:
                families["max_running"].add_metric(key, row["max_running"])
            families["room"].add_metric(key, row["room"])
            families["waiting"].add_metric(key, row["waiting"] or 0)
            families["paused"].add_metric(key, 1 if row["paused_until"] is not None else 0)
        return families.values()

    def collect(self):
        worker = self._worker
        up = GaugeMetricFamily("pgrun_worker_up", "1 while this worker runs", labels=["worker_id"])
        up.add_metric([worker.worker_id], 0 if self.stopped else 1)
        ready = GaugeMetricFamily("pgrun_worker_ready", "1 when /health/ready answers 200")
        ready.add_metric([], 1 if self.ready()[0] else 0)
        listening = GaugeMetricFamily("pgrun_worker_listening", "1 while the LISTEN connection is up")
        listening.add_metric([], 1 if worker.listening else 0)
        running = GaugeMetricFamily("pgrun_worker_running_jobs", "jobs this worker runs now")
        running.add_metric([], worker.running_jobs)
        yield from (up, ready, listening, running)

        jobs = GaugeMetricFamily("pgrun_queue_jobs", "jobs by task, queue and state (SQL job_counts)",
                                 labels=["task", "queue", "state"])
        oldest = GaugeMetricFamily("pgrun_queue_oldest_waiting_seconds",
                                   "how long the oldest available job of a task and queue has waited",
                                   labels=["task", "queue"])
        age = GaugeMetricFamily("pgrun_queue_counted_age_seconds", "how old the job counts are")
        now = datetime.now(timezone.utc)
        for row in self.rows:
            labels = [row["task_identifier"], row["queue_name"] or ""]
            jobs.add_metric(labels + [row["state"]], row["jobs"])
            if row["waiting_since"] is not None:
                oldest.add_metric(labels, max(0.0, (now - row["waiting_since"]).total_seconds()))
        if self.rows:
            age.add_metric([], max(0.0, (now - self.rows[0]["counted_at"]).total_seconds()))
        yield from (jobs, oldest, age)
        yield from self._limit_families()


class MetricsServer:
    """The exporter of one worker: its registry, the statistics reader and the HTTP server."""

    def __init__(self, worker, refresh: float = 5.0) -> None:
        self.worker = worker
        self.registry = CollectorRegistry(auto_describe=True)
        self.stats = _QueueStats(worker, refresh)
        self.registry.register(self.stats)
        self.jobs = Counter("pgrun_jobs", "handler outcomes of this worker's attempts",
                            ["task", "outcome"], registry=self.registry)
        self.timeouts = Counter("pgrun_job_timeouts", "attempts stopped at their timeout", ["task"],
                                registry=self.registry)
        self.dead = Counter("pgrun_jobs_dead", "jobs that failed for good (job:dead)", ["task"],
                            registry=self.registry)
        self.durations = Histogram("pgrun_job_duration_seconds", "how long handlers ran", ["task"],
                                   buckets=DURATION_BUCKETS, registry=self.registry)
        self._server: asyncio.base_events.Server | None = None
        self._reader: asyncio.Task | None = None
        self.port: int | None = None

    # ---------------------------------------------------------- events

    def _on_event(self, event) -> None:
        name, job = event.name, event.job
        if name == "worker:start":
            self.stats.started = True
        elif name == "worker:stop":
            self.stats.stopped = True
        elif job is None:
            return
        elif name in _OUTCOMES:
            self.jobs.labels(job.task_identifier, _OUTCOMES[name]).inc()
            if event.duration is not None:
                self.durations.labels(job.task_identifier).observe(event.duration)
        elif name == "job:timeout":
            self.timeouts.labels(job.task_identifier).inc()
        elif name == "job:dead":
            self.dead.labels(job.task_identifier).inc()

    # ---------------------------------------------------------- http

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 10.0)
            while (await asyncio.wait_for(reader.readline(), 10.0)) not in (b"\r\n", b"\n", b""):
                pass  # headers: nothing in them matters here
            parts = request.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            if path == "/metrics":
                status, body, kind = 200, generate_latest(self.registry), CONTENT_TYPE_LATEST
            elif path == "/health/live":
                alive = not self.stats.stopped and self.worker.error is None
                status, body, kind = (200, b"live\n", "text/plain") if alive else (
                    503, b"stopped\n", "text/plain")
            elif path == "/health/ready":
                ok, why = self.stats.ready()
                status, body, kind = (200 if ok else 503), f"{why}\n".encode(), "text/plain"
            else:
                status, body, kind = 404, b"not found: /metrics, /health/live, /health/ready\n", "text/plain"
            phrase = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            head = (f"HTTP/1.1 {status} {phrase}\r\nContent-Type: {kind}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
            writer.write(head.encode() + body)
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError, ValueError):  # ValueError: a line over 64 KiB
            pass
        finally:
            writer.close()

    async def start(self, port: int, host: str = "127.0.0.1") -> None:
        self.worker.events.on("*", self._on_event)
        self._server = await asyncio.start_server(self._answer, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._reader = asyncio.create_task(self.stats.run(), name="pgrun metrics")
        log.info("metrics on http://%s:%d/metrics (health: /health/live, /health/ready)", host, self.port)

    async def close(self) -> None:
        self.stats.stopped = True
        self.worker.events.off("*", self._on_event)
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def serve_metrics(worker, port: int, host: str = "127.0.0.1", refresh: float = 5.0) -> MetricsServer:
    """Starts the exporter of `worker` on host:port (port 0: any free port; see `.port`)."""
    server = MetricsServer(worker, refresh)
    await server.start(port, host)
    return server


__all__ = ["MetricsServer", "serve_metrics"]
