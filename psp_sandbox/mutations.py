"""How every mutating request runs: authentication, idempotency, faults, one journal line.

1. A request with an Idempotency-Key whose first request is still running gets a 409; one whose
   answer is stored gets it replayed (`Idempotent-Replayed: true`), or a 400 idempotency_error
   when its parameters differ.
2. The request's faults are decided (faults.py): a 500 or a hang happen before anything does,
   so a retry is safe; a slow answer is late but right.
3. The change is made and stored with its answer and events as one journal line. Invalid
   parameters raise before anything is stored, so a corrected retry may reuse the key.
4. A "lost response" fault then cuts the connection (or answers 500) although the change is
   made: the client must ask again, with the same key, to learn what happened.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from psp_sandbox import faults, form
from psp_sandbox.auth import authenticate
from psp_sandbox.errors import API_ERROR, ApiError
from psp_sandbox.events import Emitted
from psp_sandbox.idempotency import InFlightKeys, check_key, fingerprint, mismatch
from psp_sandbox.ids import new_id
from psp_sandbox.store import SandboxStore, StoredResponse

log = logging.getLogger("psp_sandbox")

StripeObject = dict[str, Any]


@dataclass
class Change:
    """What a mutating request did: its answer, and everything to store with it."""

    status: int
    body: dict[str, Any]
    objects: list[StripeObject] = field(default_factory=list)
    emitted: Emitted = field(default_factory=Emitted)


@dataclass(frozen=True)
class Attempt:
    """One request as the action sees it."""

    pairs: list[tuple[str, str]]
    faults: faults.RequestFaults
    now: float
    request: dict[str, Any]  # the event's `request` field: id and idempotency key
    origin: str = ""  # scheme://host:port the client reached the sandbox on

    @property
    def params(self) -> form.Params:
        """The parameters, one nesting level deep (what most endpoints take)."""
        return form.decode(self.pairs)


Action = Callable[[Attempt], Change]


def encode(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))


def json_response(status: int, body: str, request_id: str, **headers: str) -> Response:
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers={"Request-Id": request_id, **headers},
    )


class MutationRunner:
    def __init__(
        self,
        store: SandboxStore,
        api_key_prefix: str,
        fault_config: Callable[[], faults.FaultConfig],
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._api_key_prefix = api_key_prefix
        self._fault_config = fault_config
        self._clock = clock
        self._in_flight = InFlightKeys()
        # Attempts per key (or per endpoint without one) since start: faults are drawn per
        # attempt, so the same run of requests meets the same faults.
        self._attempts: dict[str, int] = {}

    async def run(self, request: Request, endpoint: str, action: Action) -> Response:
        authenticate(request.headers.get("authorization"), self._api_key_prefix)
        pairs = form.parse_body(await request.body())
        request_id = new_id("req_")
        key = request.headers.get("idempotency-key")
        if key is None:
            return await self._execute(request, endpoint, pairs, request_id, None, "", action)
        check_key(key)
        request_fingerprint = fingerprint("POST", request.url.path, pairs)
        with self._in_flight.hold(key):
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
            return await self._execute(
                request, endpoint, pairs, request_id, key, request_fingerprint, action
            )

    async def _execute(
        self,
        http_request: Request,
        endpoint: str,
        pairs: list[tuple[str, str]],
        request_id: str,
        key: str | None,
        request_fingerprint: str,
        action: Action,
    ) -> Response:
        attempt_key = f"key:{key}" if key is not None else f"endpoint:{endpoint}"
        attempt = self._attempts.get(attempt_key, 0) + 1
        self._attempts[attempt_key] = attempt
        params = dict(pairs)
        # A transfer names its fault by its destination (payouts.destination_fault).
        payment_method = params.get("payment_method") or destination_fault(
            params.get("destination", "")
        )
        planned = faults.for_request(
            self._fault_config(),
            endpoint,
            key or f"#{attempt}",
            attempt if key is not None else 1,
            payment_method,
        )
        if planned.hang_s:
            await asyncio.sleep(planned.hang_s)
            return _server_error(request_id, "The sandbox timed out (injected fault).")
        if planned.server_error:
            retry_after_ms = self._fault_config().server_error_retry_after_ms
            if retry_after_ms > 0:
                return _unavailable(request_id, retry_after_ms)
            return _server_error(request_id, "The sandbox failed (injected fault).")
        if planned.delay_s:
            await asyncio.sleep(planned.delay_s)
        now = self._clock()
        origin = str(http_request.base_url).rstrip("/")
        event_request = {"id": request_id, "idempotency_key": key}
        change = action(Attempt(pairs, planned, now, event_request, origin))
        body = encode(change.body)
        response = StoredResponse(request_fingerprint, change.status, body, request_id)
        self._store.save(
            change.objects + change.emitted.events,
            key,
            response if key is not None else None,
            change.emitted.records,
        )
        if planned.lose_response == "disconnect":
            return DroppedResponse(body)
        if planned.lose_response == "server_error":
            return _server_error(request_id, "The sandbox failed after acting (injected fault).")
        headers = {"Idempotency-Key": key} if key is not None else {}
        return json_response(change.status, body, request_id, **headers)


def destination_fault(destination: str) -> str | None:
    """The fault token a sandbox connected account stands for: `acct_sandboxLostResponseOnce…`
    loses the first answer of a transfer to it, and likewise for the other `*Once` faults and
    `Slow`."""
    for token in (
        faults.SLOW,
        faults.SERVER_ERROR_ONCE,
        faults.TIMEOUT_ONCE,
        faults.LOST_RESPONSE_ONCE,
    ):
        name = token.removeprefix("pm_card_sandbox_")
        if destination.lower().startswith(f"acct_sandbox{name.lower()}"):
            return token
    return None


def _server_error(request_id: str, message: str) -> Response:
    body = ApiError(500, API_ERROR, message).body()
    return json_response(500, encode(body), request_id)


def _unavailable(request_id: str, retry_after_ms: int) -> Response:
    body = ApiError(503, API_ERROR, "The sandbox is unavailable (injected fault).").body()
    retry_after = str(-(-retry_after_ms // 1000))  # whole seconds, rounded up
    return json_response(503, encode(body), request_id, **{"Retry-After": retry_after})


class ConnectionDropped(Exception):
    """Raised mid-response on purpose: the server then closes the connection unanswered."""


class DroppedResponse(Response):
    """Starts a response and breaks off: the client sees the connection cut mid-answer."""

    def __init__(self, body: str) -> None:
        super().__init__(body, status_code=200, media_type="application/json")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body[:1], "more_body": True})
        log.info("dropping the connection of a request on purpose (lost_response fault)")
        raise ConnectionDropped("lost_response fault: connection dropped after acting")
