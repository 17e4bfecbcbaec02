"""OpenTelemetry traces, configured from the standard `OTEL_*` variables, and the trace context
carried across every hop of the mesh, so that one checkout is one trace:

    gateway (HTTP server span) → gRPC (client and server spans, context in the metadata)
    → the event's envelope (`headers`: W3C `traceparent`, `tracestate`, and the request id,
      stored with the outbox row as part of its payload; copied into the NATS message headers)
    → each consumer (a span per message, child of the event's producer span)
    → the PSP call (a client span around the stripe SDK call) → the events it causes → ...

Off unless an OTLP endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), or when `OTEL_SDK_DISABLED=true` or
`OTEL_TRACES_EXPORTER=none`. Off, nothing is installed: no interceptor, no span object, no
envelope header but the request id. On, spans go in batches (`OTEL_BSP_*`) to the OTLP/gRPC
exporter, which reads its own variables (`OTEL_EXPORTER_OTLP_HEADERS`, `..._CERTIFICATE`,
`..._INSECURE`, `..._TIMEOUT`, `..._COMPRESSION`); the sampler is `OTEL_TRACES_SAMPLER`'s
(parent-based, always on by default), the propagators `OTEL_PROPAGATORS`' (W3C by default).

The request id (mesh.request_ids) travels beside the trace context, in the envelope's
headers, so that the log lines of a consumer carry the id of the API request that caused its
work, with tracing on or off."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from mesh.request_ids import current_request_id
from paymesh.events.v1 import events_pb2

log = logging.getLogger(__name__)

# The envelope header (and NATS message header) that carries the request id of the API request
# an event descends from; gRPC metadata and HTTP use mesh.request_ids' names.
REQUEST_ID_HEADER = "request-id"
_PROTOCOLS = ("", "grpc")
_TRUE = ("true", "1", "yes")

_tracer: trace.Tracer | None = None  # set by `setup` when tracing is on
_provider: Any = None  # the SDK's TracerProvider, for `shutdown`


class TracingConfigError(ValueError):
    """An `OTEL_*` variable asks for something paymesh cannot do. The process logs it and runs
    untraced: payments matter more than their traces."""


def wanted(environ: MutableMapping[str, str] | None = None) -> bool:
    """Whether the environment turns tracing on (see the module's docstring)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        return False
    exporters = env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    if exporters in ("", "none"):
        return False
    if exporters != "otlp":
        raise TracingConfigError(
            f"OTEL_TRACES_EXPORTER={exporters!r}: paymesh exports traces with OTLP only"
        )
    protocol = env.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    )
    if protocol.strip().lower() not in _PROTOCOLS:
        raise TracingConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: paymesh exports OTLP over gRPC ('grpc')"
        )
    return bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def setup(service: str) -> bool:
    """Install the SDK for the process `service` (its `service.name`, beside whatever
    `OTEL_RESOURCE_ATTRIBUTES` adds) when the environment turns tracing on; returns whether it
    did. Call once, before the gRPC server and channels are made (they ask `enabled()`)."""
    global _tracer, _provider
    if _tracer is not None:
        return True
    try:
        if not wanted():
            return False
    except TracingConfigError as err:
        log.error("tracing stays off: %s", err)
        return False
    # Imported only when on: an untraced process never loads the SDK or the exporter.
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _provider = provider
    _tracer = provider.get_tracer("paymesh")
    log.info("tracing on: spans of %s exported over OTLP/gRPC", service)
    return True


def shutdown() -> None:
    """Export the spans still buffered and stop the exporter (at the end of the process)."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


def enabled() -> bool:
    return _tracer is not None


def server_interceptors() -> list[Any]:
    """The gRPC server interceptors that make a span of every call (its parent from the
    caller's metadata); none when tracing is off."""
    if _tracer is None:
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor()]


def client_interceptors() -> list[Any]:
    """The gRPC channel interceptors that make a span of every call and put its context in
    the call's metadata; none when tracing is off."""
    if _tracer is None:
        return []
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    return list(aio_client_interceptors())


def stamp(event_type: str, headers: MutableMapping[str, str]) -> None:
    """Fill an event envelope's `headers` as it is written (to the outbox): the request id of
    the work at hand, and, when tracing is on, the context of a producer span for the event
    (a child of the span at hand: the RPC's or the consumer's that caused it)."""
    request_id = current_request_id.get()
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id
    if _tracer is None:
        return
    with _tracer.start_as_current_span(
        f"{event_type} publish",
        kind=SpanKind.PRODUCER,
        attributes={"messaging.system": "nats", "messaging.destination.name": event_type},
    ):
        propagate.inject(headers)


def nats_headers(msg_id: str, envelope_bytes: bytes) -> dict[str, str]:
    """The NATS headers the outbox relay publishes an envelope with: `Nats-Msg-Id`, and, when
    tracing is on, the envelope's own headers (traceparent, tracestate, request-id), so that
    tools on the wire (and dead letters, which keep a message's headers) see them. Off, the
    envelope is not decoded: the relay pays nothing."""
    headers = {"Nats-Msg-Id": msg_id}
    if _tracer is not None:
        try:
            headers.update(events_pb2.Envelope.FromString(bytes(envelope_bytes)).headers)
        except Exception:  # undecodable: published as it is, the consumer dead-letters it
            pass
    return headers


EnvelopeHandler = Callable[[events_pb2.Envelope], Awaitable[None]]


def consuming(durable: str, handler: EnvelopeHandler) -> EnvelopeHandler:
    """`handler` (a JetStream consumer's, taking an envelope) run with the request id of the
    envelope's headers for its log lines and, when tracing is on, inside a consumer span whose
    parent is the event's producer span (its context read from the envelope's headers). A
    handler that also applies batches (mesh.jetstream.BatchHandler) stays one: see
    `_TracedBatches`."""
    if hasattr(handler, "apply_batch"):
        return _TracedBatches(durable, handler)
    return _traced(durable, handler)


def _traced(durable: str, handler: EnvelopeHandler) -> EnvelopeHandler:
    async def traced(envelope: events_pb2.Envelope) -> None:
        headers = envelope.headers
        request_token = current_request_id.set(headers.get(REQUEST_ID_HEADER, ""))
        try:
            if _tracer is None:
                await handler(envelope)
                return
            with _tracer.start_as_current_span(
                f"{envelope.event_type} process",
                context=propagate.extract(headers),
                kind=SpanKind.CONSUMER,
                attributes=_consumer_attributes(envelope, durable),
            ):
                await handler(envelope)
        finally:
            current_request_id.reset(request_token)

    return traced


def _consumer_attributes(envelope: events_pb2.Envelope, durable: str) -> dict[str, Any]:
    return {
        "messaging.system": "nats",
        "messaging.destination.name": envelope.event_type,
        "messaging.message.id": envelope.event_id,
        "messaging.consumer.group.name": durable,
    }


class _TracedBatches:
    """A batch handler traced: one by one as `_traced`; a batch (one transaction for many
    messages) gets one consumer span per message, each the child of its own event's producer
    span and spanning the batch's transaction, so every checkout's trace stays one tree."""

    def __init__(self, durable: str, handler: Any) -> None:
        self._durable = durable
        self._handler = handler
        self._one = _traced(durable, handler)

    async def __call__(self, envelope: events_pb2.Envelope) -> None:
        await self._one(envelope)

    async def apply_batch(self, consumer: str, envelopes: Any) -> list[int]:
        if _tracer is None:
            return list(await self._handler.apply_batch(consumer, envelopes))
        spans = [
            _tracer.start_span(
                f"{envelope.event_type} process",
                context=propagate.extract(envelope.headers),
                kind=SpanKind.CONSUMER,
                attributes={
                    **_consumer_attributes(envelope, self._durable),
                    "messaging.batch.message_count": len(envelopes),
                },
            )
            for envelope in envelopes
        ]
        try:
            return list(await self._handler.apply_batch(consumer, envelopes))
        except BaseException as err:
            for span in spans:
                span.record_exception(err)
                span.set_status(Status(StatusCode.ERROR, "the batch failed: one by one next"))
            raise
        finally:
            for span in spans:
                span.end()


@contextmanager
def psp_call(kind: str) -> Iterator[Callable[[str], None]]:
    """A client span around one call to the PSP (`kind`: charge, refund, retrieve, ...); the
    yielded function records the call's outcome (ok, declined, timeout, ...) on it."""
    if _tracer is None:
        yield _ignore
        return
    with _tracer.start_as_current_span(
        f"PSP {kind}",
        kind=SpanKind.CLIENT,
        attributes={"paymesh.psp.call": kind},
        set_status_on_exception=False,  # a decline comes as an exception; the outcome tells
    ) as span:

        def outcome(value: str) -> None:
            span.set_attribute("paymesh.psp.outcome", value)
            if value not in ("ok", "declined"):
                span.set_status(Status(StatusCode.ERROR, value))

        yield outcome


def _ignore(_: str) -> None:
    pass


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


@contextmanager
def http_request(scope: dict[str, Any], request_id: str) -> Iterator[Callable[[int, str], None]]:
    """A server span around one HTTP request the gateway answers (its parent from the caller's
    `traceparent`, when it sends one); the yielded function names it by its route template
    and records its status once answered."""
    if _tracer is None:
        yield _ignore_answer
        return
    carrier = {
        name: value
        for name in ("traceparent", "tracestate")
        if (value := _header(scope, name.encode())) is not None
    }
    parent = propagate.extract(carrier) if carrier else otel_context.Context()
    method = scope.get("method", "")
    with _tracer.start_as_current_span(
        method,
        context=parent,
        kind=SpanKind.SERVER,
        attributes={"http.request.method": method, "paymesh.request_id": request_id},
    ) as span:

        def answered(status: int, route: str) -> None:
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))

        yield answered


def _ignore_answer(_status: int, _route: str) -> None:
    pass
