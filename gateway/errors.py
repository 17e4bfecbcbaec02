"""AIP-193 errors as JSON: `{"error": {"code", "status", "message", "details": [...]}}`.

The body is built from a `google.rpc.Status`: `mesh.errors.to_rpc_status` for errors raised in
the gateway, the upstream's rich status for errors from a gRPC call. The HTTP status is
`mesh.errors.http_status(code, reason)`, except for the few reasons that only exist over HTTP.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from starlette.responses import JSONResponse

from mesh.errors import (
    RETRY_AFTER_KEY,
    Code,
    ServiceError,
    code_from_int,
    http_status,
    to_rpc_status,
)
from mesh.grpc_errors import code_of

log = logging.getLogger(__name__)

# Reasons that only exist over HTTP (the rest are in mesh.errors.HTTP_STATUS_BY_REASON).
GATEWAY_HTTP_STATUS_BY_REASON = {
    "PAYLOAD_TOO_LARGE": 413,
    "METHOD_NOT_ALLOWED": 405,
}
_RETRY_STATUSES = {429, 503}

# Messages for upstream failures that carry no rich status: the upstream's own text (which can
# name hosts and internals) never reaches the client.
_UPSTREAM_MESSAGES = {
    Code.UNAVAILABLE: "{service} is unavailable; retry later with the same request",
    Code.DEADLINE_EXCEEDED: "{service} did not answer in time; retry later with the same request",
}


def _error_info(status: status_pb2.Status) -> error_details_pb2.ErrorInfo:
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return error_details_pb2.ErrorInfo()


def _details(status: status_pb2.Status) -> list[dict[str, Any]]:
    rendered = []
    for detail in status.details:
        try:
            rendered.append(
                json_format.MessageToDict(detail, always_print_fields_with_no_presence=True)
            )
        except (json_format.Error, TypeError, KeyError):
            continue  # a detail type this process does not know: left out
    return rendered


def status_response(
    status: status_pb2.Status, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The HTTP response for a non-OK `google.rpc.Status`."""
    code = code_from_int(status.code)
    info = _error_info(status)
    http = GATEWAY_HTTP_STATUS_BY_REASON.get(info.reason) or http_status(code, info.reason)
    all_headers = dict(headers or {})
    if http in _RETRY_STATUSES:
        retry = info.metadata.get(RETRY_AFTER_KEY, "")
        all_headers.setdefault("Retry-After", retry if retry.isdigit() else "1")
    if http == 401:
        all_headers.setdefault("WWW-Authenticate", "Bearer")
    body = {
        "error": {
            "code": http,
            "status": code.name,
            "message": status.message,
            "details": _details(status),
        }
    }
    return JSONResponse(body, status_code=http, headers=all_headers)


def error_response(err: ServiceError, headers: dict[str, str] | None = None) -> JSONResponse:
    """The HTTP response for an error raised in the gateway."""
    return status_response(to_rpc_status(err), headers)


def upstream_status(err: grpc.aio.AioRpcError, service: str) -> status_pb2.Status:
    """The status to show for a failed upstream call: its rich status when it sent one (mesh
    servers always do), otherwise one made here that does not repeat the upstream's text."""
    try:
        rich = rpc_status.from_call(err)
    except ValueError:
        rich = None
    if rich is not None and rich.code != 0:
        return rich
    code = code_of(err.code())
    template = _UPSTREAM_MESSAGES.get(code)
    if template is not None:
        reason, message = "UNAVAILABLE", template.format(service=service)
    elif code in (Code.INTERNAL, Code.UNKNOWN, Code.DATA_LOSS):
        reason, message = "INTERNAL", "internal error"
    else:
        reason, message = code.name, f"{service} refused the request ({code.name})"
    return to_rpc_status(ServiceError(code, reason, message))


def internal_response() -> JSONResponse:
    return error_response(ServiceError(Code.INTERNAL, "INTERNAL", "internal error"))
