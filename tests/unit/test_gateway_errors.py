"""AIP-193 error bodies rendered by the gateway."""

from __future__ import annotations

import json

import pytest
from google.rpc import code_pb2, status_pb2

from gateway.errors import error_response, status_response
from mesh.errors import Code, FieldViolation, ServiceError, invalid_argument, to_rpc_status

pytestmark = pytest.mark.unit


def body(response) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(response.body)


def test_invalid_argument_renders_error_info_and_bad_request() -> None:
    err = invalid_argument(
        [FieldViolation("payment_orders[0].amount", "amount.precision", "USD allows at most 2")]
    )
    response = error_response(err)
    assert response.status_code == 400
    assert response.media_type == "application/json"
    assert body(response) == {
        "error": {
            "code": 400,
            "status": "INVALID_ARGUMENT",
            "message": "payment_orders[0].amount: USD allows at most 2",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "INVALID_ARGUMENT",
                    "domain": "paymesh.dev",
                    "metadata": {},
                },
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [
                        {
                            "field": "payment_orders[0].amount",
                            "description": "USD allows at most 2",
                            "reason": "amount.precision",
                        }
                    ],
                },
            ],
        }
    }


def test_reasons_with_their_own_http_status() -> None:
    reused = ServiceError(Code.FAILED_PRECONDITION, "IDEMPOTENCY_KEY_REUSED", "reused")
    assert error_response(reused).status_code == 422
    in_use = ServiceError(
        Code.ABORTED, "IDEMPOTENCY_KEY_IN_USE", "busy", metadata={"retry_after_s": "4"}
    )
    response = error_response(in_use)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "4"
    assert body(response)["error"]["details"][0]["metadata"] == {"retry_after_s": "4"}


def test_resource_exhausted_gets_a_default_retry_after() -> None:
    response = error_response(ServiceError(Code.RESOURCE_EXHAUSTED, "RATE", "slow"))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"


def test_unauthenticated_asks_for_a_bearer_token() -> None:
    response = error_response(ServiceError(Code.UNAUTHENTICATED, "UNAUTHENTICATED", "x"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_status_without_details_still_renders() -> None:
    response = status_response(status_pb2.Status(code=code_pb2.UNAVAILABLE, message="down"))
    assert response.status_code == 503
    assert body(response)["error"] == {
        "code": 503,
        "status": "UNAVAILABLE",
        "message": "down",
        "details": [],
    }


def test_round_trip_of_a_rich_status() -> None:
    status = to_rpc_status(ServiceError(Code.NOT_FOUND, "NOT_FOUND", "no order"))
    response = status_response(status)
    assert response.status_code == 404
    assert body(response)["error"]["details"][0]["reason"] == "NOT_FOUND"
