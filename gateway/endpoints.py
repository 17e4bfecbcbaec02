"""One generic endpoint per derived route: guard, authenticate, map HTTP to the request
message, validate with the generic validator, call the upstream with a deadline, map back.

Order matters: card numbers are looked for in the URL and the raw body before anything parses
or logs them; the body is never logged; bad input is refused before any upstream call.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.access import SCOPES_METADATA, Gatekeeper, scopes_header
from gateway.audit import AuditEntry, AuditLog
from gateway.codec import (
    card_number_paths,
    decode_json,
    message_from_json,
    message_to_json,
    set_path_params,
    set_query_params,
)
from gateway.errors import error_response, internal_response, status_response, upstream_status
from gateway.routes import IDEMPOTENCY_FIELD, IDEMPOTENCY_HEADER, MethodRoute
from gateway.scopes import is_audited, required_scope
from gateway.upstream import Upstreams, is_replay
from mesh.cards import contains_card_number
from mesh.errors import Code, FieldViolation, ServiceError, invalid_argument
from mesh.logs import log_fields
from mesh.validation import CARD_MESSAGE, CARD_RULE, validate

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]

# Who is calling, for the upstream: idempotency keys live in the space of the API key that sent
# them.
CALLER_METADATA = "x-paymesh-key-id"
# Bodies larger than this are parsed in a worker thread.
PARSE_IN_THREAD_BYTES = 64 * 1024
# On an answer that is the stored one of an earlier request with the same Idempotency-Key.
REPLAYED_HEADERS = {"Idempotent-Replayed": "true"}


@dataclass(frozen=True)
class EndpointContext:
    upstreams: Upstreams
    gatekeeper: Gatekeeper
    audit: AuditLog
    max_body_bytes: int


def card_rejected(fields: list[str]) -> ServiceError:
    return invalid_argument(
        [FieldViolation(f, CARD_RULE, CARD_MESSAGE) for f in fields], "CARD_NUMBER_REJECTED"
    )


def payload_too_large(limit: int) -> ServiceError:
    return ServiceError(
        Code.INVALID_ARGUMENT,
        "PAYLOAD_TOO_LARGE",
        f"the body is larger than {limit} bytes",
        metadata={"max_bytes": str(limit)},
    )


def _guard_url(route: MethodRoute, request: Request) -> None:
    """Card numbers in the path or the query are refused before they go anywhere."""
    fields = [
        route.path_params[name]
        for name, value in request.path_params.items()
        if contains_card_number(str(value))
    ]
    for key, value in request.query_params.multi_items():
        if contains_card_number(key):
            fields.append("query")
        elif contains_card_number(value):
            fields.append(key)
    if fields:
        raise card_rejected(sorted(set(fields)))


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise payload_too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise payload_too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _locate_cards(text: str) -> list[str]:
    try:
        return card_number_paths(json.loads(text))
    except (ValueError, RecursionError):
        return []


def _parse_body(raw: bytes) -> Any:
    """The parsed body; refused first when any card-like number is in the raw text (a JSON
    number, an unknown field, a key), and again when one hides behind JSON escapes."""
    text = raw.decode("utf-8", errors="replace")
    if contains_card_number(text):
        raise card_rejected(_locate_cards(text) or ["body"])
    document = decode_json(raw)
    # Without a backslash, every decoded string is a piece of the raw text, already scanned
    # (its quotes stand where a card number must have a non-digit anyway); only an escape can
    # hide a number from that scan. Skipping the walk saves most of a large body's cost.
    if "\\" in text:
        hidden = card_number_paths(document)
        if hidden:
            raise card_rejected(hidden)
    return document


def _body_message(route: MethodRoute, document: Any) -> Message:
    request_type = route.request_type
    if route.body != "*":
        return message_from_json({route.body: document}, request_type)
    exclude = {
        field_path.split(".", 1)[0]: "is taken from the URL path"
        for field_path in route.path_params.values()
    }
    if route.needs_idempotency_key:
        exclude[IDEMPOTENCY_FIELD] = (
            f"is not accepted in the body; send the {IDEMPOTENCY_HEADER} header"
        )
    return message_from_json(document, request_type, exclude)


HEADER_REQUIRED = FieldViolation(
    IDEMPOTENCY_HEADER,
    "required",
    f"the {IDEMPOTENCY_HEADER} header is required: a UUID naming this request",
)


def _as_header(err: ServiceError, header_missing: bool) -> ServiceError:
    """The validator names `request_id`; over HTTP the caller sent (or forgot) the header."""
    if not any(v.field == IDEMPOTENCY_FIELD for v in err.violations) and not header_missing:
        return err
    renamed = [
        dataclasses.replace(v, field=IDEMPOTENCY_HEADER)
        for v in err.violations
        if v.field == IDEMPOTENCY_FIELD and not header_missing
    ]
    others = [v for v in err.violations if v.field != IDEMPOTENCY_FIELD]
    header = [HEADER_REQUIRED] if header_missing else renamed
    return invalid_argument([*header, *others], err.reason)


def _validate(route: MethodRoute, request: Request, message: Message) -> None:
    """The generic validator, with the idempotency key taken from its header. A missing header
    is reported together with whatever else is wrong."""
    header_missing = False
    if route.needs_idempotency_key:
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        header_missing = not key
        setattr(message, IDEMPOTENCY_FIELD, key)
    try:
        validate(message)
    except ServiceError as err:
        raise _as_header(err, header_missing) from None
    if header_missing:  # pragma: no cover - the contract's uuid rule already refuses ""
        raise invalid_argument([HEADER_REQUIRED])


async def _request_message(route: MethodRoute, request: Request, ctx: EndpointContext) -> Message:
    if route.body:
        raw = await read_body(request, ctx.max_body_bytes)
        # A large body is parsed off the event loop (tens of ms at 1 MiB), so other requests
        # are still answered meanwhile.
        if len(raw) > PARSE_IN_THREAD_BYTES:
            document = await asyncio.to_thread(_parse_body, raw)
        else:
            document = _parse_body(raw)
        message = _body_message(route, document)
    else:
        message = route.request_type()
    set_path_params(
        message,
        {route.path_params[name]: str(value) for name, value in request.path_params.items()},
    )
    set_query_params(message, request.query_params.multi_items(), route.query_fields())
    _validate(route, request, message)
    return message


async def _handle(
    route: MethodRoute, scope: str, request: Request, ctx: EndpointContext
) -> Response:
    _guard_url(route, request)
    key = await ctx.gatekeeper.admit(request, scope)
    message = await _request_message(route, request, ctx)
    metadata = [(CALLER_METADATA, key.key_id), (SCOPES_METADATA, scopes_header(key))]
    reply = await ctx.upstreams.call(route, message, metadata=metadata)
    body = reply.message
    if route.response_body:
        body = getattr(body, route.response_body)
    headers = REPLAYED_HEADERS if reply.replayed else None
    return JSONResponse(message_to_json(body), status_code=route.success_status, headers=headers)


async def answered(
    handle: Callable[[], Awaitable[Response]], *, what: str, service: str
) -> Response:
    """The response of `handle`, or the AIP-193 error it ran into: its own (ServiceError), the
    upstream's (marked when the upstream replayed it), or an opaque 500. `what` names the
    route in the log; `service` names the upstream to the caller."""
    try:
        return await handle()
    except ServiceError as err:
        return error_response(err)
    except grpc.aio.AioRpcError as err:
        log.warning(
            "upstream of %s failed: %s",
            what,
            err.code().name,
            extra=log_fields(route=what, code=err.code().name),
        )
        replayed = is_replay(err.trailing_metadata())
        return status_response(
            upstream_status(err, service), dict(REPLAYED_HEADERS) if replayed else None
        )
    except Exception:
        # Never a stack trace to the caller. The request was card-checked before anything
        # could fail on it, and the JSON log formatter redacts card-like numbers anyway.
        log.exception("unhandled error in %s", what)
        return internal_response()


def _resource(route: MethodRoute, request: Request) -> str:
    """The path called, for the audit log; its template when the path holds a card number."""
    path = request.url.path
    return route.template if contains_card_number(path) else path


def _request_id(request: Request) -> str | None:
    """The Idempotency-Key, for the audit log, when it is a UUID."""
    try:
        return str(uuid.UUID(request.headers.get(IDEMPOTENCY_HEADER, "")))
    except ValueError:
        return None


def make_endpoint(route: MethodRoute, ctx: EndpointContext) -> Endpoint:
    scope = required_scope(route.method)  # read once: a set lookup per request
    audited = is_audited(route.method)

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        response = await answered(
            lambda: _handle(route, scope, request, ctx),
            what=f"{route.http_method} {route.template}",
            service=route.service.name,
        )
        key = getattr(request.state, "api_key", None)
        quota = getattr(request.state, "quota", None)
        if quota is not None:
            response.headers.update(quota.headers())
        if audited and key is not None and quota is not None and quota.allowed:
            # Every call of an operator action by a key within its rate, whatever its outcome.
            await ctx.audit.record(
                AuditEntry(
                    key.key_id,
                    route.method.full_name,
                    _resource(route, request),
                    _request_id(request),
                    response.status_code,
                )
            )
        log.info(
            "%s %s %d",
            route.http_method,
            route.template,
            response.status_code,
            extra=log_fields(
                method=route.http_method,
                route=route.template,
                status=response.status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                key_id=key.key_id if key is not None else None,
            ),
        )
        return response

    return endpoint
