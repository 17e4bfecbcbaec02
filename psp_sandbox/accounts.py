"""Stripe Connect connected accounts: POST /v1/accounts (create), GET /v1/accounts/{account}
(retrieve), GET /v1/accounts (list, newest first), in Stripe's `account` shape (its fixture in
Stripe's OpenAPI repository), trimmed to what a platform paying sellers reads.

A transfer's `destination` and a payout's `Stripe-Account` must be a connected account the
sandbox knows: one created here, or one of its built-in test accounts, whose ids start with
`acct_sandbox` (`acct_sandboxFails…`, `acct_sandboxReturns…`, … name their behaviour, as test
card numbers do; see psp_sandbox.payouts). Anything else is refused with Stripe's errors: a
transfer's 400 `resource_missing` ("No such destination"), a request on behalf of the account
403 `account_invalid`.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from psp_sandbox import form, listing
from psp_sandbox.auth import authenticate
from psp_sandbox.context import SandboxContext
from psp_sandbox.errors import ApiError, invalid_parameter, invalid_request, unknown_parameter
from psp_sandbox.ids import new_id
from psp_sandbox.mutations import Attempt, Change, encode, json_response
from psp_sandbox.payment_intents import metadata_param
from psp_sandbox.store import SandboxStore

BUILT_IN = "acct_sandbox"  # ids of the sandbox's own test accounts (no need to create them)
TYPES = ("standard", "express", "custom")
_PARAMS = frozenset(
    {
        "type",
        "country",
        "email",
        "default_currency",
        "business_type",
        "metadata",
        "capabilities",
        "controller",
        "business_profile",
        "expand",
    }
)
_ALPHABET = string.ascii_letters + string.digits


def is_known(store: SandboxStore, account_id: str) -> bool:
    return account_id.startswith(BUILT_IN) or store.get(account_id, "account") is not None


def no_such_destination(destination: str) -> ApiError:
    return invalid_request(
        f"No such destination: '{destination}'", param="destination", code="resource_missing"
    )


def no_access(account_id: str, api_key: str) -> ApiError:
    shown = api_key[:8] + "*" * 4 + api_key[-4:] if len(api_key) > 12 else "***"
    return invalid_request(
        f"The provided key '{shown}' does not have access to account '{account_id}' (or that "
        "account does not exist). Application access may have been revoked.",
        code="account_invalid",
        status=403,
    )


def account_object(account_id: str, created: int, params: form.Params | None = None) -> dict:
    params = params or {}
    account_type = form.as_string(params, "type") or "custom"
    return {
        "id": account_id,
        "object": "account",
        "type": account_type,
        "country": (form.as_string(params, "country") or "US").upper(),
        "email": form.as_string(params, "email"),
        "default_currency": (form.as_string(params, "default_currency") or "usd").lower(),
        "business_type": form.as_string(params, "business_type"),
        "capabilities": {"transfers": "active"},
        "charges_enabled": True,
        "payouts_enabled": True,
        "details_submitted": True,
        "created": created,
        "metadata": metadata_param(params),
        "external_accounts": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/accounts/{account_id}/external_accounts",
        },
        "settings": {"payouts": {"schedule": {"interval": "manual", "delay_days": 2}}},
    }


class AccountRoutes:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context

    async def create(self, request: Request) -> Response:
        return await self._context.runner.run(request, "POST /v1/accounts", self._create)

    def _create(self, attempt: Attempt) -> Change:
        params = attempt.params
        for name in params:
            if name not in _PARAMS:
                raise unknown_parameter(name)
        account_type = form.as_string(params, "type")
        if account_type is not None and account_type not in TYPES:
            raise invalid_parameter("type", f"Invalid type: must be one of {', '.join(TYPES)}")
        account_id = "acct_1" + "".join(secrets.choice(_ALPHABET) for _ in range(15))
        account = account_object(account_id, int(attempt.now), params)
        return Change(200, account, [account])

    async def retrieve(self, request: Request) -> Response:
        authenticate(request.headers.get("authorization"), self._context.settings.api_key_prefix)
        account_id = request.path_params["account"]
        account: dict[str, Any] | None = self._context.store.get(account_id, "account")
        if account is None and account_id.startswith(BUILT_IN):
            account = account_object(account_id, 0)
        if account is None:
            raise invalid_request(
                f"No such account: '{account_id}'",
                param="account",
                code="resource_missing",
                status=404,
            )
        return json_response(200, encode(account), new_id("req_"))

    async def list(self, request: Request) -> Response:
        params = listing.query_params(request, self._context.settings.api_key_prefix, ())
        return listing.list_response(self._context.store, "account", "/v1/accounts", params)
