"""What the mesh records about every unary RPC a service answers: the request id it was sent
(gRPC metadata `x-request-id`, set for the log lines of the call), and its count by status code
and its latency (mesh.metrics)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from mesh.metrics import RPC_LATENCY, RPCS, Children
from mesh.request_ids import METADATA, current_request_id, sane_request_id

_handled = Children(RPCS)
_latency = Children(RPC_LATENCY)


def _split(method: str) -> tuple[str, str]:
    """ "/paymesh.payment.v1.PaymentService/CreatePayment" as (service, method)."""
    service, _, name = method.lstrip("/").rpartition("/")
    return service, name


def _request_id(metadata: Any) -> str:
    for key, value in metadata or ():
        if key == METADATA:
            return sane_request_id(value if isinstance(value, str) else None) or ""
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
        service, method = _split(handler_call_details.method)
        latency = _latency(service, method)
        request_id = _request_id(handler_call_details.invocation_metadata)

        async def observed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            # Each call runs in its own task: the request id stays with this call's log lines.
            current_request_id.set(request_id)
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                return await inner(request, context)
            except BaseException:
                code = context.code() or grpc.StatusCode.UNKNOWN  # set by abort_with_status
                raise
            finally:
                latency.observe(time.perf_counter() - started)
                _handled(service, method, code.name).inc()

        return grpc.unary_unary_rpc_method_handler(
            observed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
