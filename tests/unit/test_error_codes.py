"""mesh.errors.Code is transport-neutral, but what crosses the wire must stay what gRPC's status
codes were: the same names and numbers, the same status from a ServiceError, and clients get
back the ServiceError a server raised."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import code_pb2
from grpc_status import rpc_status

from mesh.errors import (
    Code,
    FieldViolation,
    ServiceError,
    code_from_int,
    from_rpc_status,
    invalid_argument,
    to_rpc_status,
    unavailable,
)
from mesh.grpc_errors import code_of, error_from_call

pytestmark = pytest.mark.unit


def test_codes_are_grpc_and_google_rpc_codes() -> None:
    assert {c.name: c.value for c in Code} == {s.name: s.value[0] for s in grpc.StatusCode}
    assert all(code_pb2.Code.Value(c.name) == c.value for c in Code)


@pytest.mark.parametrize("status_code", list(grpc.StatusCode))
def test_a_service_error_becomes_the_same_grpc_status(status_code: grpc.StatusCode) -> None:
    code = code_of(status_code)
    assert code.name == status_code.name
    status = rpc_status.to_status(to_rpc_status(ServiceError(code, "R", "message")))
    assert status.code is status_code


def test_a_number_that_is_no_code_is_unknown() -> None:
    assert code_from_int(99) is Code.UNKNOWN


def test_a_rich_status_round_trips() -> None:
    err = invalid_argument([FieldViolation("amount", "amount.precision", "2 digits at most")])
    again = from_rpc_status(to_rpc_status(err))
    assert (again.code, again.reason, again.violations) == (
        Code.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        err.violations,
    )


def test_a_client_gets_back_the_servers_service_error() -> None:
    sent = unavailable("try later", retry_after_s="3")
    status = rpc_status.to_status(to_rpc_status(sent))
    call = grpc.aio.AioRpcError(
        status.code,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(*status.trailing_metadata),
        status.details,
    )
    got = error_from_call(call)
    assert (got.code, got.reason, got.metadata) == (Code.UNAVAILABLE, "UNAVAILABLE", sent.metadata)


def test_a_bare_status_keeps_its_code() -> None:
    call = grpc.aio.AioRpcError(
        grpc.StatusCode.NOT_FOUND, grpc.aio.Metadata(), grpc.aio.Metadata(), "no such thing"
    )
    got = error_from_call(call)
    assert (got.code, got.reason, got.message) == (Code.NOT_FOUND, "NOT_FOUND", "no such thing")
