"""What the mesh records about every unary RPC a service answers: the request id it was sent
(gRPC metadata `x-request-id`, set for the log lines of the call), and its count by status code
and its latency (mesh.metrics)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from prometheus_client import Counter, Histogram

from mesh.metrics import RPC_LATENCY, RPCS, Children
from mesh.request_ids import METADATA, current_request_id

_handled = Children(RPCS)
_latency = Children(RPC_LATENCY)


@dataclass(frozen=True)
class _Method:
    """One RPC's labels and the children counted on every call, made at its first call."""

    service: str
    name: str
    latency: Histogram  # the children of this method
    ok: Counter  # (code OK)


_methods: dict[str, _Method] = {}


def _method(path: str) -> _Method:
    """ "/paymesh.payment.v1.PaymentService/CreatePayment", its labels and children."""
    found = _methods.get(path)
    if found is None:
        service, _, name = path.lstrip("/").rpartition("/")
        found = _methods[path] = _Method(
            service, name, _latency(service, name), _handled(service, name, "OK")
        )
    return found


def _request_id(metadata: Any) -> str:
    """The caller's request id, at most 128 characters. Not checked further: the gateway sent a
    sane one, and whatever a caller inside the mesh sends only ends up in the JSON logs, which
    escape it and redact card numbers."""
    for key, value in metadata or ():
        if key == METADATA:
            return value[:128] if isinstance(value, str) else ""
    return ""


class RpcObserver(grpc.aio.ServerInterceptor):
    """Wraps each unary handler; streaming ones (reflection) pass untouched."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary
        method = _method(handler_call_details.method)
        request_id = _request_id(handler_call_details.invocation_metadata)

        async def observed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            # Each call runs in its own task: the request id stays with this call's log lines.
            current_request_id.set(request_id)
            started = time.perf_counter()
            try:
                answer = await inner(request, context)
            except BaseException:
                code = context.code() or grpc.StatusCode.UNKNOWN  # set by abort_with_status
                method.latency.observe(time.perf_counter() - started)
                _handled(method.service, method.name, code.name).inc()
                raise
            method.latency.observe(time.perf_counter() - started)
            method.ok.inc()
            return answer

        return grpc.unary_unary_rpc_method_handler(
            observed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
