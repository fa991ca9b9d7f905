"""OpenTelemetry (pip install 'pgrun[otel]'): a span per job attempt, a child of the trace
that enqueued the job.

    import pgrun.otel

    pgrun.otel.instrument_enqueue()     # add_job from Python carries the current trace context
    pgrun.run("myapp.tasks", middleware=[pgrun.otel.middleware()])

The enqueuer's trace context travels in the job's meta (W3C `traceparent` and `tracestate`),
not in its payload; from SQL, pass it yourself:
`add_job('t', '{}', meta => '{"traceparent": "00-<trace id>-<span id>-01"}')`. The worker's span
for each attempt is named `pgrun.job <task>` (kind CONSUMER), with the job's id, task, attempt,
max_attempts and queue as attributes; an error is recorded on it with the status ERROR.
Propagation uses the global propagator (opentelemetry.propagate), W3C trace context by default.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context, propagate, trace

from . import enqueue
from .job import Job
from .middleware import CallNext, Middleware
from .version import __version__

_CARRIED = ("traceparent", "tracestate")


def _inject(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """A job's meta with the current trace context (if a span is current and it has none)."""
    if meta is not None and "traceparent" in meta:
        return meta
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    carried = {k: v for k, v in carrier.items() if k in _CARRIED}
    return {**(meta or {}), **carried} if carried else meta


def instrument_enqueue() -> None:
    """Every job added from Python (add_job, helpers.add_job, WorkerUtils, the integrations) carries
    the trace context current where it is added. Idempotent."""
    if _inject not in enqueue.meta_hooks:
        enqueue.meta_hooks.append(_inject)


def uninstrument_enqueue() -> None:
    if _inject in enqueue.meta_hooks:
        enqueue.meta_hooks.remove(_inject)


def middleware(tracer_provider: Any = None) -> Middleware:
    """The worker middleware that runs each attempt in a span, parented by the job's trace context."""
    tracer = trace.get_tracer("pgrun", __version__, tracer_provider=tracer_provider)

    async def pgrun_tracing(job: Job, call_next: CallNext) -> Any:
        carrier = {k: job.meta[k] for k in _CARRIED if job.meta and isinstance(job.meta.get(k), str)}
        parent = propagate.extract(carrier) if carrier else context.Context()
        attributes = {"messaging.system": "pgrun", "messaging.operation": "process",
                      "pgrun.job.id": job.id, "pgrun.job.task": job.task_identifier,
                      "pgrun.job.attempt": job.attempts, "pgrun.job.max_attempts": job.max_attempts}
        if job.queue_name is not None:
            attributes["pgrun.job.queue"] = job.queue_name
        with tracer.start_as_current_span(f"pgrun.job {job.task_identifier}", context=parent,
                                          kind=trace.SpanKind.CONSUMER, attributes=attributes):
            return await call_next()   # an exception is recorded, and the status set, by the span
    return pgrun_tracing
