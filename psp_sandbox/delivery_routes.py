"""GET /_sandbox/webhook_deliveries: webhook deliveries not yet taken by the endpoint.

For a developer wondering where a webhook went: each pending or given-up delivery with its
event, attempts, last HTTP status (null: no connection) and when it is next due. Delivered
ones are gone. Needs the API key, like /v1.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from psp_sandbox.auth import authenticate
from psp_sandbox.context import SandboxContext
from psp_sandbox.events import DELIVERY
from psp_sandbox.ids import new_id
from psp_sandbox.mutations import encode, json_response


class DeliveryRoutes:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context

    async def list(self, request: Request) -> Response:
        authenticate(request.headers.get("authorization"), self._context.settings.api_key_prefix)
        deliveries = [
            {"id": delivery_id, **record}
            for delivery_id, record in sorted(
                self._context.store.records(DELIVERY).items(), key=lambda item: item[1]["due"]
            )
        ]
        body = {
            "webhook_url": self._context.settings.webhook_url or None,
            "data": deliveries,
        }
        return json_response(200, encode(body), new_id("req_"))
