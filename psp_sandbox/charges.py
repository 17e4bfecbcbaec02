"""Charges: GET /v1/charges/{id}, as Stripe has it (a charge is made by confirming a
PaymentIntent, or seeded as a discrepancy; it is read to refund one charge by its id)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from psp_sandbox import listing
from psp_sandbox.auth import authenticate
from psp_sandbox.context import SandboxContext


class ChargeRoutes:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context

    async def retrieve(self, request: Request) -> Response:
        authenticate(request.headers.get("authorization"), self._context.settings.api_key_prefix)
        return listing.retrieve_response(self._context.store, "charge", request.path_params["id"])
