"""Errors as AIP-193 describes them: a canonical code, a google.rpc.ErrorInfo with a
machine-readable reason, and a google.rpc.BadRequest naming each offending field.

Use cases raise `ServiceError`; the gRPC interceptor turns it into a rich status; the gateway
turns that status into JSON with the matching HTTP status. Nothing else crosses the wire: no
stack trace, no internal message.

No grpc here: service layers raise these and may not import a transport, not even through mesh
(import-linter). The rich status is a `google.rpc.Status` message, plain protobuf, which the
payment service's idempotency store also keeps; a `Code` crosses the wire as its number (gRPC's
own), and `mesh.grpc_errors` reads a gRPC call's status back into a `ServiceError`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

ERROR_DOMAIN = "paymesh.dev"
# ErrorInfo metadata key of errors worth retrying after a pause; also sent as google.rpc.RetryInfo
# (gRPC) and as the Retry-After header (HTTP).
RETRY_AFTER_KEY = "retry_after_s"


class Code(enum.Enum):
    """The canonical codes of google.rpc.Code, with its numbers (the same as gRPC's status
    codes, so a code crosses the wire as its value)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


@dataclass(frozen=True)
class FieldViolation:
    """One broken rule: `field` is a path like `payment_orders[0].amount`."""

    field: str
    rule: str
    description: str


@dataclass
class ServiceError(Exception):
    """An error a caller can act on. `reason` is an ErrorReason name without its prefix."""

    code: Code
    reason: str
    message: str
    violations: Sequence[FieldViolation] = field(default_factory=tuple)
    metadata: dict[str, str] = field(default_factory=dict)
    # True when this is a stored answer given again to a repeated idempotent request.
    replayed: bool = False

    def __str__(self) -> str:
        return f"{self.code.name} {self.reason}: {self.message}"


def invalid_argument(
    violations: Sequence[FieldViolation], reason: str = "INVALID_ARGUMENT"
) -> ServiceError:
    first = violations[0]
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    message = f"{first.field}: {first.description}{more}" if first.field else first.description
    return ServiceError(Code.INVALID_ARGUMENT, reason, message, tuple(violations))


def not_found(what: str, ident: str) -> ServiceError:
    return ServiceError(
        Code.NOT_FOUND,
        "NOT_FOUND",
        f"{what} {ident!r} not found",
        metadata={what: ident},
    )


def failed_precondition(
    reason: str, message: str, metadata: dict[str, str] | None = None
) -> ServiceError:
    """A request that is well formed but cannot be done in the current state (a 422 over
    REST when its reason is listed in HTTP_STATUS_BY_REASON)."""
    return ServiceError(Code.FAILED_PRECONDITION, reason, message, (), metadata or {})


def already_exists(message: str, metadata: dict[str, str] | None = None) -> ServiceError:
    return ServiceError(Code.ALREADY_EXISTS, "ALREADY_EXISTS", message, (), metadata or {})


def unavailable(message: str, retry_after_s: str = "1") -> ServiceError:
    """Worth retrying after a pause (the same idempotency key)."""
    return ServiceError(
        Code.UNAVAILABLE, "UNAVAILABLE", message, (), {RETRY_AFTER_KEY: retry_after_s}
    )


def is_refusal(err: ServiceError) -> bool:
    """A FAILED_PRECONDITION: the request is fine but the state does not allow it."""
    return err.code is Code.FAILED_PRECONDITION


def to_rpc_status(err: ServiceError) -> status_pb2.Status:
    info = error_details_pb2.ErrorInfo(
        reason=err.reason, domain=ERROR_DOMAIN, metadata=err.metadata
    )
    details = [info]
    if err.violations:
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.description, reason=v.rule
                    )
                    for v in err.violations
                ]
            )
        )
    retry_after = err.metadata.get(RETRY_AFTER_KEY, "")
    if retry_after.isdigit():
        details.append(
            error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=int(retry_after)))
        )
    packed = []
    for d in details:
        a = any_pb2.Any()
        a.Pack(d)
        packed.append(a)
    return status_pb2.Status(code=err.code.value, message=err.message, details=packed)


def from_rpc_status(status: status_pb2.Status) -> ServiceError:
    """The ServiceError that `to_rpc_status` turned into `status` (e.g. a stored answer)."""
    info = error_details_pb2.ErrorInfo()
    bad_request = error_details_pb2.BadRequest()
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            detail.Unpack(bad_request)
    return ServiceError(
        code_from_int(status.code),
        info.reason or code_from_int(status.code).name,
        status.message,
        tuple(
            FieldViolation(v.field, v.reason, v.description) for v in bad_request.field_violations
        ),
        dict(info.metadata),
    )


def internal_status(message: str = "internal error") -> status_pb2.Status:
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason="INTERNAL", domain=ERROR_DOMAIN))
    return status_pb2.Status(code=code_pb2.INTERNAL, message=message, details=[info])


# HTTP status per canonical code (the mapping of google.rpc.Code), with the few reasons
# whose HTTP meaning is sharper than their code's.
HTTP_STATUS: dict[Code, int] = {
    Code.OK: 200,
    Code.CANCELLED: 499,
    Code.UNKNOWN: 500,
    Code.INVALID_ARGUMENT: 400,
    Code.DEADLINE_EXCEEDED: 504,
    Code.NOT_FOUND: 404,
    Code.ALREADY_EXISTS: 409,
    Code.PERMISSION_DENIED: 403,
    Code.RESOURCE_EXHAUSTED: 429,
    Code.FAILED_PRECONDITION: 400,
    Code.ABORTED: 409,
    Code.OUT_OF_RANGE: 400,
    Code.UNIMPLEMENTED: 501,
    Code.INTERNAL: 500,
    Code.UNAVAILABLE: 503,
    Code.DATA_LOSS: 500,
    Code.UNAUTHENTICATED: 401,
}
HTTP_STATUS_BY_REASON = {
    "IDEMPOTENCY_KEY_REUSED": 422,
    "IDEMPOTENCY_KEY_IN_USE": 429,
    "RISK_REJECTED": 422,
    "ORDER_NOT_REFUNDABLE": 422,
    "REFUND_EXCEEDS_REMAINING": 422,
    "ORDER_NOT_RELEASABLE": 422,
    "INSUFFICIENT_FUNDS": 422,
    "NO_PAYOUT_DESTINATION": 422,
    "NO_BALANCE_IN_CURRENCY": 422,
    # The finance queue's refusals (recon_svc.domain.queue.check_resolution).
    "MISMATCH_NOT_OPEN": 422,
    "WRITE_OFF_ABOVE_THRESHOLD": 422,
    "NOTHING_TO_REFUND": 422,
    "NOTE_REQUIRED": 422,
    "WRITE_OFF_NOT_POSSIBLE": 422,
    "DECISION_IN_PROGRESS": 409,
    # The payment service's refusal to give back a charge that is no duplicate
    # (payment_svc.domain.duplicate_charges).
    "NOT_A_DUPLICATE_CHARGE": 422,
}


def http_status(code: Code, reason: str = "") -> int:
    return HTTP_STATUS_BY_REASON.get(reason, HTTP_STATUS.get(code, 500))


def code_from_int(value: int) -> Code:
    """The code a google.rpc.Status carries; UNKNOWN for a number that is no canonical code."""
    try:
        return Code(value)
    except ValueError:
        return Code.UNKNOWN
