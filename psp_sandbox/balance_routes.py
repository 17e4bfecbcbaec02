"""GET /v1/balance_transactions and /v1/balance_transactions/{id}, as Stripe lists them.

Filters: `type` (charge, refund), `source` (a charge or refund id), `currency`, and
`created[gt|gte|lt|lte]` (unix seconds).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from psp_sandbox import discrepancies, form, listing
from psp_sandbox.auth import authenticate
from psp_sandbox.context import SandboxContext
from psp_sandbox.errors import invalid_parameter, unknown_parameter

_BOUNDS = {
    "gt": lambda value, bound: value > bound,
    "gte": lambda value, bound: value >= bound,
    "lt": lambda value, bound: value < bound,
    "lte": lambda value, bound: value <= bound,
}


class BalanceTransactionRoutes:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context

    async def list(self, request: Request) -> Response:
        prefix = self._context.settings.api_key_prefix
        params = listing.query_params(request, prefix, ("type", "source", "currency", "created"))
        exact = {
            name: value
            for name in ("type", "source", "currency")
            if (value := form.as_string(params, name)) is not None
        }
        created = _created_bounds(params)

        hidden = self._context.store.records(discrepancies.HIDDEN)

        def wanted(transaction: dict[str, Any]) -> bool:
            return (
                transaction["id"] not in hidden
                and all(transaction[name] == value for name, value in exact.items())
                and all(_BOUNDS[op](transaction["created"], bound) for op, bound in created)
            )

        filtered = bool(exact or created or hidden)
        return listing.list_response(
            self._context.store,
            "balance_transaction",
            "/v1/balance_transactions",
            params,
            wanted if filtered else None,
        )

    async def retrieve(self, request: Request) -> Response:
        authenticate(request.headers.get("authorization"), self._context.settings.api_key_prefix)
        return listing.retrieve_response(
            self._context.store, "balance_transaction", request.path_params["id"]
        )


def _created_bounds(params: form.Params) -> list[tuple[str, int]]:
    if "created" not in params:
        return []
    raw = params["created"]
    if isinstance(raw, str):  # `created=<unix>`: that very second
        raw = {"gte": raw, "lte": raw}
    bounds = []
    for op, text in raw.items():
        if op not in _BOUNDS:
            raise unknown_parameter(f"created[{op}]")
        if not text.isdigit():
            raise invalid_parameter(
                f"created[{op}]", f"Invalid integer: {text}", code="parameter_invalid_integer"
            )
        bounds.append((op, int(text)))
    return bounds
