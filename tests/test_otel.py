"""pgrun.otel: a span per job attempt, parented by the trace that enqueued the job (from Python,
and from SQL through add_job's meta), checked with the SDK's in-memory span exporter."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import pgrun
import pgrun.otel


async def traced(payload, helpers):
    await helpers.add_job("child", {})   # inside the attempt's span: the child job is its child


async def child(payload, helpers):
    pass


def broken(payload, helpers):
    raise ValueError("no good")


TASKS = {"traced": traced, "child": child, "broken": broken}


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    pgrun.otel.instrument_enqueue()
    try:
        yield provider, exporter
    finally:
        pgrun.otel.uninstrument_enqueue()
        provider.shutdown()


def test_each_attempt_is_a_span_whose_parent_is_the_enqueuer(dsn, spans):
    provider, exporter = spans
    with provider.get_tracer("web").start_as_current_span("POST /orders") as request:
        with pgrun.WorkerUtils(dsn) as utils:
            job = utils.add_job("traced", {})
    assert job.meta["traceparent"].split("-")[1] == format(request.get_span_context().trace_id, "032x")
    assert "traceparent" not in job.payload   # in the job, not in its payload

    pgrun.run_once(TASKS, connection=dsn, middleware=[pgrun.otel.middleware(tracer_provider=provider)])

    by_name = {span.name: span for span in exporter.get_finished_spans()}
    attempt, nested = by_name["pgrun.job traced"], by_name["pgrun.job child"]
    assert attempt.kind is SpanKind.CONSUMER and attempt.status.status_code is not StatusCode.ERROR
    assert attempt.parent.span_id == request.get_span_context().span_id
    assert attempt.context.trace_id == request.get_span_context().trace_id
    assert dict(attempt.attributes) == {"messaging.system": "pgrun", "messaging.operation": "process",
                                        "pgrun.job.id": job.id, "pgrun.job.task": "traced",
                                        "pgrun.job.attempt": 1, "pgrun.job.max_attempts": 25}
    assert nested.parent.span_id == attempt.context.span_id   # a job added during the attempt
    assert nested.context.trace_id == attempt.context.trace_id


def test_a_trace_context_given_in_sql_parents_the_span(dsn, conn, spans):
    provider, exporter = spans
    trace_id, span_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    conn.execute("select pgrun.add_job('child', meta => jsonb_build_object('traceparent', %s::text))",
                 (f"00-{trace_id}-{span_id}-01",))
    pgrun.run_once(TASKS, connection=dsn, middleware=[pgrun.otel.middleware(tracer_provider=provider)])
    (span,) = exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == trace_id
    assert format(span.parent.span_id, "016x") == span_id


def test_a_failed_attempt_records_its_error_and_a_job_without_context_starts_a_trace(dsn, spans):
    provider, exporter = spans
    with pgrun.WorkerUtils(dsn) as utils:   # no current span: nothing is carried
        job = utils.add_job("broken", {})
    assert job.meta is None
    pgrun.run_once(TASKS, connection=dsn, middleware=[pgrun.otel.middleware(tracer_provider=provider)])
    (span,) = exporter.get_finished_spans()
    assert span.parent is None and span.status.status_code is StatusCode.ERROR
    assert [event.attributes["exception.type"] for event in span.events] == ["ValueError"]
