"""The PaymentIntents endpoints."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from psp_sandbox import form, payment_intents
from psp_sandbox.auth import authenticate
from psp_sandbox.errors import invalid_parameter, no_such_payment_intent, unknown_parameter
from psp_sandbox.idempotency import KeyedLocks, check_key, fingerprint, mismatch
from psp_sandbox.store import SandboxStore, StoredResponse

LIST_URL = "/v1/payment_intents"
DEFAULT_LIST_LIMIT = 10
MAX_LIST_LIMIT = 100


def encode(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))


def json_response(status: int, body: str, request_id: str, **headers: str) -> Response:
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers={"Request-Id": request_id, **headers},
    )


class PaymentIntentRoutes:
    def __init__(
        self,
        store: SandboxStore,
        api_key_prefix: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._api_key_prefix = api_key_prefix
        self._clock = clock
        self._locks = KeyedLocks()

    async def create(self, request: Request) -> Response:
        """POST /v1/payment_intents: create, and with `confirm=true` charge at once."""
        authenticate(request.headers.get("authorization"), self._api_key_prefix)
        pairs = form.parse_body(await request.body())
        request_id = payment_intents.new_id("req_")
        key = request.headers.get("idempotency-key")
        if key is None:
            status, body = self._create(pairs, request_id)
            return json_response(status, body, request_id)
        check_key(key)
        request_fingerprint = fingerprint("POST", request.url.path, pairs)
        # Concurrent retries of one key wait here, then replay the first one's answer.
        async with self._locks.hold(key):
            stored = self._store.response(key)
            if stored is not None:
                if stored.fingerprint != request_fingerprint:
                    raise mismatch(key)
                return json_response(
                    stored.status,
                    stored.body,
                    request_id,
                    **{
                        "Idempotency-Key": key,
                        "Idempotent-Replayed": "true",
                        "Original-Request": stored.request_id,
                    },
                )
            status, body = self._create(pairs, request_id, key, request_fingerprint)
        return json_response(status, body, request_id, **{"Idempotency-Key": key})

    def _create(
        self,
        pairs: list[tuple[str, str]],
        request_id: str,
        key: str | None = None,
        request_fingerprint: str = "",
    ) -> tuple[int, str]:
        # Invalid parameters raise before anything is stored, so a corrected retry may reuse
        # the key, as with Stripe.
        created = payment_intents.create(form.decode(pairs), now=int(self._clock()))
        if created.decline is not None:
            status, body = created.decline.status, encode(created.decline.body())
        else:
            status, body = 200, encode(created.intent)
        response = StoredResponse(request_fingerprint, status, body, request_id)
        self._store.save(created.intent, key, response if key is not None else None)
        return status, body

    async def retrieve(self, request: Request) -> Response:
        """GET /v1/payment_intents/{intent}."""
        authenticate(request.headers.get("authorization"), self._api_key_prefix)
        for name in request.query_params:
            if name != "client_secret":
                raise unknown_parameter(name)
        intent_id = request.path_params["intent"]
        intent = self._store.intent(intent_id)
        if intent is None:
            raise no_such_payment_intent(intent_id)
        return json_response(200, encode(intent), payment_intents.new_id("req_"))

    async def list(self, request: Request) -> Response:
        """GET /v1/payment_intents: newest first, paged with `limit` and cursors."""
        authenticate(request.headers.get("authorization"), self._api_key_prefix)
        params = form.decode(request.query_params.multi_items())
        for name in params:
            if name not in ("limit", "starting_after", "ending_before"):
                raise unknown_parameter(name)
        limit = _limit(form.as_string(params, "limit"))
        starting_after = form.as_string(params, "starting_after")
        ending_before = form.as_string(params, "ending_before")
        for param, cursor in (("starting_after", starting_after), ("ending_before", ending_before)):
            if cursor is not None and self._store.intent(cursor) is None:
                raise no_such_payment_intent(cursor, param=param)
        page = self._store.page(limit, starting_after, ending_before)
        body = {"object": "list", "data": page.data, "has_more": page.has_more, "url": LIST_URL}
        return json_response(200, encode(body), payment_intents.new_id("req_"))


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIST_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIST_LIMIT:
        raise invalid_parameter(
            "limit",
            f"This value must be an integer between 1 and {MAX_LIST_LIMIT}.",
            code="parameter_invalid_integer",
        )
    return int(text)
