"""The OpenAPI document is generated from the same descriptors as the routes."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from gateway.comments import proto_comments
from gateway.openapi import build_openapi
from gateway.routes import FRONTED_SERVICES, derive_routes
from gateway.scopes import SCOPES, required_scope

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return build_openapi(derive_routes(), proto_comments(FRONTED_SERVICES))


def params(op: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(p["in"], p["name"]): p for p in op.get("parameters", []) if "$ref" not in p}


def schema(doc: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    return doc["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


def test_paths_and_methods(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1")
    found = {(m.upper(), path) for path, ops in doc["paths"].items() for m in ops}
    assert found == {
        ("POST", "/v1/payments"),
        ("GET", "/v1/payments/{payment_order_id}"),
        ("GET", "/v1/checkouts/{checkout_id}"),
        ("POST", "/v1/buyers/{buyer_id}:erase"),
        ("POST", "/v1/payments/{payment_order_id}/release"),
        ("POST", "/v1/refunds"),
        ("GET", "/v1/refunds/{refund_id}"),
        ("GET", "/v1/wallets/{seller_account}"),
        ("GET", "/v1/ledger/accounts/{account}"),
        ("GET", "/v1/ledger/accounts/{account}/entries"),
        ("GET", "/v1/ledger/trial-balance"),
        ("POST", "/v1/webhook-endpoints"),
        ("GET", "/v1/webhook-endpoints"),
        ("GET", "/v1/webhook-endpoints/{endpoint_id}"),
        ("POST", "/v1/webhook-endpoints/{endpoint_id}:disable"),
        ("GET", "/v1/webhook-events/{event_id}/deliveries"),
        ("POST", "/v1/webhook-events/{event_id}:redeliver"),
        ("POST", "/v1/sellers"),
        ("GET", "/v1/sellers/{seller_account}"),
        ("PATCH", "/v1/sellers/{seller_account}"),
        ("POST", "/v1/payouts"),
        ("GET", "/v1/payouts/{payout_id}"),
        ("GET", "/v1/sellers/{seller_account}/payouts"),
        ("POST", "/v1/payout-runs"),
        ("POST", "/v1/recon/runs"),
        ("GET", "/v1/recon/runs/{run_id}"),
        ("GET", "/v1/recon/mismatches"),
        ("GET", "/v1/recon/mismatches/{mismatch_id}"),
        ("POST", "/v1/recon/mismatches/{mismatch_id}/resolve"),
        ("GET", "/v1/ops/alerts"),
        ("POST", "/v1/ops/alerts/{alert_id}:acknowledge"),
        ("GET", "/v1/ops/dlq"),
        ("GET", "/v1/ops/dlq/{seq}"),
        ("POST", "/v1/ops/dlq/{seq}:replay"),
        ("POST", "/v1/ops/dlq/{seq}:discard"),
        ("GET", "/v1/ops/payments:lookup"),
        ("GET", "/v1/ops/payment-stats"),
    }


def test_path_and_query_parameters(doc: dict[str, Any]) -> None:
    order = params(doc["paths"]["/v1/payments/{payment_order_id}"]["get"])
    assert order[("path", "payment_order_id")]["required"] is True
    entries = params(doc["paths"]["/v1/ledger/accounts/{account}/entries"]["get"])
    assert set(entries) == {("path", "account"), ("query", "page_size"), ("query", "page_token")}
    assert entries[("query", "page_size")]["schema"]["type"] == "integer"
    assert entries[("query", "page_size")]["schema"]["maximum"] == 500
    wallet = params(doc["paths"]["/v1/wallets/{seller_account}"]["get"])
    assert set(wallet) == {("path", "seller_account"), ("query", "currency")}
    assert "parameters" not in doc["paths"]["/v1/ledger/trial-balance"]["get"]


def test_create_payment_body_header_and_status(doc: dict[str, Any]) -> None:
    op = doc["paths"]["/v1/payments"]["post"]
    assert {"$ref": "#/components/parameters/IdempotencyKey"} in op["parameters"]
    header = doc["components"]["parameters"]["IdempotencyKey"]
    assert header["in"] == "header" and header["name"] == "Idempotency-Key"
    assert header["required"] is True and header["schema"]["format"] == "uuid"
    body = schema(doc, op["requestBody"]["content"]["application/json"]["schema"])
    assert "request_id" not in body["properties"]
    assert body["additionalProperties"] is False
    assert set(body["required"]) >= {"checkout_id", "buyer_info", "payment_orders"}
    assert body["properties"]["payment_orders"]["minItems"] == 1
    assert set(op["responses"]) >= {"202", "400", "401", "403", "422", "429", "503"}
    assert "200" not in op["responses"]
    reply = schema(doc, op["responses"]["202"]["content"]["application/json"]["schema"])
    assert reply["properties"]["checkout"]["$ref"].endswith("paymesh.payment.v1.Checkout")
    get = doc["paths"]["/v1/payments/{payment_order_id}"]["get"]
    assert not any("$ref" in p for p in get["parameters"])  # no Idempotency-Key on reads


def test_schemas_money_enums_and_scalars(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    order_input = schemas["paymesh.payment.v1.PaymentOrderInput"]["properties"]
    assert order_input["amount"]["type"] == "string"
    assert order_input["amount"]["pattern"] == r"^[0-9]+(\.[0-9]+)?$"
    assert order_input["currency"]["pattern"] == "^[A-Z]{3}$"
    order = schemas["paymesh.payment.v1.PaymentOrder"]["properties"]
    assert order["fee_amount"]["type"] == "string"
    assert order["created_at"] == {**order["created_at"], "type": "string", "format": "date-time"}
    assert order["wallet_updated"]["type"] == "boolean"
    status = schemas["paymesh.payment.v1.PaymentOrderStatus"]
    assert status["type"] == "string"
    assert "PAYMENT_ORDER_STATUS_SUCCESS" in status["enum"]
    entry = schemas["paymesh.ledger.v1.Entry"]["properties"]
    assert entry["entry_id"]["type"] == "string"  # int64 is a string in proto JSON
    balance = schemas["paymesh.wallet.v1.Balance"]["properties"]
    assert {balance[k]["type"] for k in ("pending", "available", "reserved", "total")} == {"string"}


def test_security(doc: dict[str, Any]) -> None:
    scheme = doc["components"]["securitySchemes"]["bearerAuth"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    for route in derive_routes():
        op = doc["paths"][route.path][route.http_method.lower()]
        scope = required_scope(route.method)
        assert scope in SCOPES
        assert op["security"] == [{"bearerAuth": [scope]}]
        assert op["x-required-scope"] == scope
        assert op["responses"]["401"] == {"$ref": "#/components/responses/Unauthenticated"}
        assert op["responses"]["403"] == {"$ref": "#/components/responses/PermissionDenied"}
        assert op["responses"]["429"] == {"$ref": "#/components/responses/TooManyRequests"}
        success = op["responses"][str(route.success_status)]
        assert set(success["headers"]) == {
            "RateLimit-Limit",
            "RateLimit-Remaining",
            "RateLimit-Reset",
        }
    assert doc["paths"]["/v1/refunds"]["post"]["x-required-scope"] == "refunds:write"
    assert doc["paths"]["/v1/refunds"]["post"]["x-audited"] is True
    assert "x-audited" not in doc["paths"]["/v1/payments"]["post"]
    responses = doc["components"]["responses"]
    assert "SCOPE_MISSING" in responses["PermissionDenied"]["description"]
    assert "RATE_LIMITED" in responses["TooManyRequests"]["description"]
    assert set(responses["TooManyRequests"]["headers"]) == {
        "Retry-After",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
    }


def test_every_component_reference_resolves(doc: dict[str, Any]) -> None:
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert refs
    for ref in refs:
        root, section, name = ref.removeprefix("#/").split("/")
        assert root == "components"
        assert name in doc["components"][section], ref


@pytest.mark.skipif(importlib.util.find_spec("grpc_tools") is None, reason="no protoc at hand")
def test_descriptions_come_from_the_proto_comments(doc: dict[str, Any]) -> None:
    op = doc["paths"]["/v1/payments"]["post"]
    assert op["summary"] == "Accepts a checkout with one payment order per seller"
    amount = doc["components"]["schemas"]["paymesh.payment.v1.PaymentOrderInput"]["properties"][
        "amount"
    ]
    assert amount["description"].startswith('Decimal amount as a string, "12.34"')
    order = params(doc["paths"]["/v1/payments/{payment_order_id}"]["get"])
    assert (
        order[("path", "payment_order_id")]["description"]
        == "Id of the order, as given at creation."
    )


def test_the_contract_s_rules_are_in_the_document(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    order_input = schemas["paymesh.payment.v1.PaymentOrderInput"]
    props = order_input["properties"]
    # lengths and patterns
    assert (props["payment_order_id"]["minLength"], props["payment_order_id"]["maxLength"]) == (
        1,
        64,
    )
    assert props["payment_order_id"]["pattern"] == "^[A-Za-z0-9_-]+$"
    assert props["amount"]["maxLength"] == 32
    # a field whose empty value breaks its pattern is required, as the validator treats it
    assert set(order_input["required"]) == {
        "payment_order_id",
        "seller_account",
        "amount",
        "currency",
    }
    # currency codes: ISO 4217 as the services check them, not only three capitals
    assert "USD" in props["currency"]["enum"] and "XYZ" not in props["currency"]["enum"]
    body = schemas["paymesh.payment.v1.CreatePaymentRequest.Body"]
    # item limits
    orders = body["properties"]["payment_orders"]
    assert (orders["minItems"], orders["maxItems"]) == (1, 100)
    # formats; an optional field (IGNORE_IF_ZERO_VALUE) is not required
    assert body["properties"]["redirect_url"]["format"] == "uri"
    assert "payment_method" not in body["required"] and "redirect_url" not in body["required"]
    buyer = schemas["paymesh.payment.v1.BuyerInfo"]
    assert buyer["properties"]["email"]["format"] == "email"
    assert buyer["required"] == ["buyer_id"]
    # enums
    flow = body["properties"]["flow"]
    assert schema(doc, flow)["enum"] == [
        "PAYMENT_FLOW_UNSPECIFIED",
        "PAYMENT_FLOW_DIRECT",
        "PAYMENT_FLOW_HOSTED",
    ]
    refund = schemas["paymesh.payment.v1.CreateRefundRequest.Body"]
    assert "payment_order_id" in refund["required"]


def test_answers_link_to_the_routes_their_ids_open(doc: dict[str, Any]) -> None:
    accepted = doc["paths"]["/v1/payments"]["post"]["responses"]["202"]["links"]
    assert accepted["GetCheckout"] == {
        "operationId": "PaymentService_GetCheckout",
        "parameters": {"checkout_id": "$response.body#/checkout/checkout_id"},
    }
    assert accepted["GetPaymentOrder"]["parameters"] == {
        "payment_order_id": "$response.body#/checkout/payment_orders/0/payment_order_id"
    }
    refund = doc["paths"]["/v1/refunds"]["post"]["responses"]["202"]["links"]
    assert refund["GetRefund"]["parameters"] == {"refund_id": "$response.body#/refund/refund_id"}
    operation_ids = {op["operationId"] for ops in doc["paths"].values() for op in ops.values()}
    for ops in doc["paths"].values():
        for op in ops.values():
            for response in op["responses"].values():
                for link in response.get("links", {}).values():
                    assert link["operationId"] in operation_ids
    # a read does not link to itself
    assert "GetCheckout" not in doc["paths"]["/v1/checkouts/{checkout_id}"]["get"]["responses"][
        "200"
    ].get("links", {})
