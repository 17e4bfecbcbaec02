"""An OpenTelemetry collector for tests: an OTLP/gRPC trace receiver on 127.0.0.1 (a free port),
built from the opentelemetry-proto messages, that keeps every span it is sent, so that a test
can point `OTEL_EXPORTER_OTLP_ENDPOINT` at it and look at the traces a stack exported."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


@dataclass(frozen=True)
class ReceivedSpan:
    service: str  # the resource's service.name
    name: str
    kind: int  # opentelemetry.proto.trace.v1.Span.SpanKind
    trace_id: str  # hex
    span_id: str  # hex
    parent_span_id: str  # hex; "" for a root
    attributes: dict[str, object]


@dataclass
class OtlpReceiver:
    endpoint: str = ""
    spans: list[ReceivedSpan] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        received = []
        for resource_spans in request.resource_spans:
            service = next(
                (
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                ),
                "",
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=service,
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes={
                                a.key: getattr(a.value, a.value.WhichOneof("value") or "", None)
                                for a in span.attributes
                            },
                        )
                    )
        with self._lock:
            self.spans.extend(received)

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return [s for s in self.spans if s.trace_id == trace_id]

    def find(
        self, match: Callable[[ReceivedSpan], bool], timeout: float = 30.0
    ) -> ReceivedSpan | None:
        """The first span received that `match`es, waiting up to `timeout` s for it."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = next((s for s in self.spans if match(s)), None)
            if found is not None or time.monotonic() > deadline:
                return found
            time.sleep(0.2)

    def wait_for(
        self, found: Callable[[list[ReceivedSpan]], bool], trace_id: str, timeout: float = 30.0
    ) -> list[ReceivedSpan]:
        """The spans of `trace_id` once `found` says they are all there (spans come in
        batches, from several processes); what arrived by then when they never are."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.trace(trace_id)
            if found(spans) or time.monotonic() > deadline:
                return spans
            time.sleep(0.2)


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self.receiver = receiver

    def Export(self, request, context):  # type: ignore[no-untyped-def]
        self.receiver.add(request)
        return trace_service_pb2.ExportTraceServiceResponse()


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """A running receiver; its `endpoint` is the value for OTEL_EXPORTER_OTLP_ENDPOINT."""
    receiver = OtlpReceiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(receiver), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    receiver.endpoint = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        server.stop(grace=None)
