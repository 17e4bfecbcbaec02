"""Around every request the gateway answers: its request id (taken from the caller's
`Request-Id` or `X-Request-Id` when sane, else a new UUID), set for the log lines and the
upstream calls made for it and returned in the `Request-Id` header of the answer, errors
included; and its count by route template, method and status, and its latency (mesh.metrics).

A plain ASGI middleware, not Starlette's BaseHTTPMiddleware: no extra task or body copy per
request, only the header and one histogram observation.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import internal_response
from mesh.metrics import HTTP_LATENCY, HTTP_REQUESTS, Children
from mesh.request_ids import HEADER, current_request_id, new_request_id, sane_request_id

log = logging.getLogger(__name__)

_HEADER = HEADER.lower().encode()
_ALT_HEADER = b"x-request-id"
# Requests no route matched: one label value, whatever path was asked for; likewise methods.
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_requests = Children(HTTP_REQUESTS)
_latency = Children(HTTP_LATENCY)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name in (_HEADER, _ALT_HEADER):
            return sane_request_id(value.decode("latin-1"))
    return None


def _route_template(scope: Scope) -> str:
    """The matched route's template ("/v1/payments/{payment_order_id}"), never the raw path."""
    route = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED


class ObservedRequests:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or new_request_id()
        header = (_HEADER, request_id.encode())
        token = current_request_id.set(request_id)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Answered here rather than by Starlette's outermost handler, so that even this
            # answer carries the request id. Never a stack trace to the caller.
            log.exception("unhandled error in %s %s", scope["method"], _route_template(scope))
            if status:
                raise
            await internal_response()(scope, receive, send_with_id)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "other"
            route = _route_template(scope)
            _latency(route, method).observe(time.perf_counter() - started)
            _requests(route, method, str(status or 500)).inc()
            current_request_id.reset(token)
