"""mesh.tracing with the SDK's in-memory exporter: which OTEL_* settings turn tracing on, what
an event's envelope carries (the request id always, the trace context only when tracing is on),
what the relay puts in the NATS headers, and that a consumer's span and log lines continue the
trace and the request of the event's producer."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from mesh import tracing
from mesh.events import PAYMENT_ORDER_CREATED, new_envelope
from mesh.logs import JsonFormatter
from mesh.request_ids import current_request_id
from paymesh.events.v1 import events_pb2

pytestmark = pytest.mark.unit


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Tracing on, into memory (the provider is this test's, not the process's global one)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer("test"))
    yield exporter
    provider.shutdown()


def created_event() -> events_pb2.Envelope:
    return new_envelope(
        PAYMENT_ORDER_CREATED,
        "po_1",
        events_pb2.PaymentOrderCreated(payment_order_id="po_1", checkout_id="co_1"),
    )


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4317"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_TRACES_EXPORTER": "none"}, False),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            True,
        ),
    ],
)
def test_tracing_is_on_only_with_an_otlp_endpoint(environ: dict[str, str], on: bool) -> None:
    assert tracing.wanted(environ) is on


@pytest.mark.parametrize(
    "environ",
    [
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        },
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_TRACES_EXPORTER": "zipkin"},
    ],
)
def test_what_paymesh_cannot_export_is_refused_by_name(environ: dict[str, str]) -> None:
    with pytest.raises(tracing.TracingConfigError, match="OTEL_"):
        tracing.wanted(environ)


def test_off_an_event_carries_its_request_id_and_no_trace_context() -> None:
    assert not tracing.enabled()
    assert tracing.server_interceptors() == [] and tracing.client_interceptors() == []
    token = current_request_id.set("req-1")
    try:
        env = created_event()
    finally:
        current_request_id.reset(token)
    assert dict(env.headers) == {"request-id": "req-1"}
    assert dict(created_event().headers) == {}  # outside a request: nothing
    # The relay does not even decode the envelope.
    assert tracing.nats_headers("id-1", b"not an envelope") == {"Nats-Msg-Id": "id-1"}


async def test_on_a_consumer_continues_the_producers_trace_and_request(
    exported: InMemorySpanExporter,
) -> None:
    token = current_request_id.set("req-2")
    try:
        env = created_event()
    finally:
        current_request_id.reset(token)
    assert env.headers["traceparent"].startswith("00-")
    (producer,) = exported.get_finished_spans()
    assert (producer.name, producer.kind) == ("payment.order.created publish", SpanKind.PRODUCER)
    assert producer.context is not None

    # The relay copies the envelope's headers onto the NATS message.
    published = tracing.nats_headers(env.event_id, env.SerializeToString())
    assert published == {"Nats-Msg-Id": env.event_id, **env.headers}

    lines: list[dict] = []

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(JsonFormatter("test").format(record)))

    log = logging.getLogger("test.consumer")
    log.addHandler(Lines())
    log.setLevel(logging.INFO)

    async def executor(envelope: events_pb2.Envelope) -> None:
        log.info("executing %s", envelope.aggregate_id)

    await tracing.consuming("payment-executor", executor)(env)
    assert current_request_id.get() == ""  # set for the handler only

    consumer = next(s for s in exported.get_finished_spans() if s.kind == SpanKind.CONSUMER)
    assert consumer.name == "payment.order.created process"
    assert consumer.context is not None and consumer.parent is not None
    assert consumer.parent.span_id == producer.context.span_id
    assert consumer.context.trace_id == producer.context.trace_id
    assert consumer.attributes is not None
    assert consumer.attributes["messaging.consumer.group.name"] == "payment-executor"
    (line,) = lines
    assert line["request_id"] == "req-2"
    assert line["trace_id"] == format(producer.context.trace_id, "032x")


def test_a_psp_span_says_how_the_call_ended(exported: InMemorySpanExporter) -> None:
    with tracing.psp_call("charge") as outcome:
        outcome("declined")
    with tracing.psp_call("refund") as outcome:
        outcome("timeout")
    declined, timed_out = exported.get_finished_spans()
    assert (declined.name, declined.kind) == ("PSP charge", SpanKind.CLIENT)
    assert declined.attributes is not None and timed_out.attributes is not None
    assert declined.attributes["paymesh.psp.outcome"] == "declined"
    assert declined.status.is_ok  # a decline is an answer
    assert not timed_out.status.is_ok
