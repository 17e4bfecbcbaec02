"""A server span around every request the gateway answers, when tracing is on (mesh.tracing):
the root of a checkout's trace, or a child of the caller's `traceparent` when it sends one.
Installed just inside ObservedRequests, so the span knows the request id, and named by the
route template once the router has matched it ("POST /v1/payments"), never by the raw path.
Not installed at all when tracing is off."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.observed import UNMATCHED
from mesh import tracing
from mesh.request_ids import current_request_id


class TracedRequests:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # unless an answer starts: an error escaping the app is answered outside

        async def send_seen(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with tracing.http_request(scope, current_request_id.get()) as answered:
            try:
                await self.app(scope, receive, send_seen)
            finally:
                route = getattr(scope.get("route"), "path", None) or UNMATCHED
                answered(status, route)
