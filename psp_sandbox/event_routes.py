"""GET /v1/events and /v1/events/{id}: every event the sandbox made, newest first."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from psp_sandbox import form, listing
from psp_sandbox.auth import authenticate
from psp_sandbox.context import SandboxContext


class EventRoutes:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context

    async def list(self, request: Request) -> Response:
        """Filters: `type` (exact, or a prefix ending in `.*`, as Stripe's), `delivery_success`
        is not kept, so not offered."""
        prefix = self._context.settings.api_key_prefix
        params = listing.query_params(request, prefix, ("type", "types"))
        types = set(form.as_list(params, "types") or [])
        single = form.as_string(params, "type")
        if single:
            types.add(single)

        def wanted(event: dict[str, object]) -> bool:
            event_type = str(event["type"])
            return not types or any(
                event_type == t or (t.endswith(".*") and event_type.startswith(t[:-1]))
                for t in types
            )

        return listing.list_response(
            self._context.store, "event", "/v1/events", params, wanted if types else None
        )

    async def retrieve(self, request: Request) -> Response:
        authenticate(request.headers.get("authorization"), self._context.settings.api_key_prefix)
        return listing.retrieve_response(self._context.store, "event", request.path_params["id"])
