"""JSON <-> proto in the gateway: strict requests, snake_case responses."""

from __future__ import annotations

import pytest
from google.protobuf import timestamp_pb2

from gateway.codec import (
    card_number_paths,
    decode_json,
    message_from_json,
    message_to_json,
    set_path_params,
    set_query_params,
)
from mesh.errors import ServiceError
from paymesh.ledger.v1 import ledger_pb2
from paymesh.payment.v1 import payment_pb2, refunds_pb2
from paymesh.wallet.v1 import wallet_pb2

pytestmark = pytest.mark.unit

Request = payment_pb2.CreatePaymentRequest


def violations(err: pytest.ExceptionInfo[ServiceError]) -> list[tuple[str, str]]:
    return [(v.field, v.rule) for v in err.value.violations]


def test_a_valid_body_parses() -> None:
    doc = {
        "checkout_id": "c-1",
        "buyerInfo": {"buyer_id": "b-1"},
        "payment_method": "pm_card_visa",
        "payment_orders": [
            {"payment_order_id": "o-1", "seller_account": "s", "amount": "10.50", "currency": "USD"}
        ],
    }
    message = message_from_json(doc, Request)
    assert isinstance(message, Request)
    assert message.buyer_info.buyer_id == "b-1"
    assert message.payment_orders[0].amount == "10.50"


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ServiceError) as err:
        message_from_json({"checkout_id": "c", "surprise": 1, "buyer_info": {"x": 1}}, Request)
    assert violations(err) == [
        ("surprise", "json.unknown_field"),
        ("buyer_info.x", "json.unknown_field"),
    ]
    assert err.value.reason == "INVALID_ARGUMENT"


def test_a_number_where_the_contract_has_a_string_is_refused() -> None:
    doc = {"payment_orders": [{"amount": 10.5}, {"amount": 3}], "checkout_id": 7}
    with pytest.raises(ServiceError) as err:
        message_from_json(doc, Request)
    assert violations(err) == [
        ("payment_orders[0].amount", "json.type"),
        ("payment_orders[1].amount", "json.type"),
        ("checkout_id", "json.type"),
    ]
    assert "decimal strings" in err.value.violations[0].description


def test_wrong_shapes_are_refused() -> None:
    with pytest.raises(ServiceError) as err:
        message_from_json({"payment_orders": {"amount": "1"}, "buyer_info": "x"}, Request)
    assert violations(err) == [("payment_orders", "json.type"), ("buyer_info", "json.type")]
    with pytest.raises(ServiceError) as err:
        message_from_json([1, 2], Request)
    assert violations(err) == [("body", "json.type")]


def test_excluded_fields_are_refused_with_the_reason() -> None:
    with pytest.raises(ServiceError) as err:
        message_from_json({"request_id": "x"}, Request, {"request_id": "use the header"})
    assert violations(err) == [("request_id", "json.unknown_field")]
    assert err.value.violations[0].description == "use the header"


def test_a_field_given_by_both_names_is_refused() -> None:
    with pytest.raises(ServiceError) as err:
        message_from_json({"checkout_id": "a", "checkoutId": "b"}, Request)
    assert violations(err) == [("checkout_id", "json.duplicate_field")]


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b'{"a": 1,}', b'{"a": NaN}', b"\xff\xfe", b'{"a":1,"a":2}', b"[" * 100_000],
)
def test_bodies_that_are_not_json_are_refused(raw: bytes) -> None:
    with pytest.raises(ServiceError) as err:
        decode_json(raw)
    assert violations(err) == [("body", "json.syntax")]


def test_card_numbers_are_located_without_echoing_them() -> None:
    doc = {
        "buyer_info": {"name": "4242 4242 4242 4242"},
        "extra": [1, 4111111111111111],
        "4111111111111111": "key",
        "fine": "12345",
    }
    paths = card_number_paths(doc)
    assert paths == ["[REDACTED-PAN]", "buyer_info.name", "extra[1]"]
    assert card_number_paths({"ok": ["pm_card_visa", 42]}) == []


def test_path_and_query_parameters_convert_by_type() -> None:
    message = ledger_pb2.ListEntriesRequest()
    set_path_params(message, {"account": "psp_receivable"})
    set_query_params(
        message, [("page_size", "25"), ("pageToken", "t-1")], ["page_size", "page_token"]
    )
    assert (message.account, message.page_size, message.page_token) == ("psp_receivable", 25, "t-1")


def test_bad_query_parameters_are_refused() -> None:
    with pytest.raises(ServiceError) as err:
        set_query_params(
            ledger_pb2.ListEntriesRequest(),
            [("page_size", "ten"), ("page_token", "a"), ("page_token", "b"), ("sort", "x")],
            ["page_size", "page_token"],
        )
    assert sorted(violations(err)) == [
        ("page_size", "query.type"),
        ("page_token", "query.repeated"),
        ("sort", "query.unknown_parameter"),
    ]


def test_a_null_field_is_refused_as_the_document_types_it() -> None:
    with pytest.raises(ServiceError) as err:
        message_from_json(
            {"payment_order_id": "po_1", "amount": None}, refunds_pb2.CreateRefundRequest
        )
    assert violations(err) == [("amount", "json.null")]


def test_an_empty_query_value_is_refused_where_the_contract_refuses_empty() -> None:
    # `?currency=` is not "every currency" (that is leaving it out): the field's pattern
    # refuses "", so it is a 400 naming it; an empty page token is just the first page.
    with pytest.raises(ServiceError) as err:
        set_query_params(
            wallet_pb2.GetBalanceRequest(), [("currency", "")], ["seller_account", "currency"]
        )
    assert violations(err) == [("currency", "query.empty")]
    message = ledger_pb2.ListEntriesRequest()
    set_query_params(message, [("page_token", "")], ["page_size", "page_token"])
    assert message.page_token == ""


def test_responses_use_proto_names_and_print_every_field() -> None:
    reply = payment_pb2.GetCheckoutResponse(
        checkout=payment_pb2.Checkout(
            checkout_id="c-1",
            created_at=timestamp_pb2.Timestamp(seconds=0),
            payment_orders=[
                payment_pb2.PaymentOrder(
                    payment_order_id="o-1",
                    amount="10.50",
                    status=payment_pb2.PAYMENT_ORDER_STATUS_NOT_STARTED,
                )
            ],
        )
    )
    body = message_to_json(reply)
    checkout = body["checkout"]
    assert checkout["is_payment_done"] is False
    assert checkout["created_at"] == "1970-01-01T00:00:00Z"
    order = checkout["payment_orders"][0]
    assert order["amount"] == "10.50"
    assert order["status"] == "PAYMENT_ORDER_STATUS_NOT_STARTED"
    assert order["wallet_updated"] is False
    assert order["history"] == []
    assert "paymentOrderId" not in order
    assert message_to_json(wallet_pb2.GetBalanceResponse()) == {
        "seller_account": "",
        "balances": [],
    }


def test_text_that_cannot_be_stored_is_refused_naming_the_field() -> None:
    body = {
        "checkout_id": "co\u0000",
        "buyer_info": {"buyer_id": "b1", "name": "Ada \ud800"},  # a lone surrogate ("\ud800")
    }
    with pytest.raises(ServiceError) as err:
        message_from_json(body, Request)
    assert sorted(violations(err)) == [
        ("buyer_info.name", "string.storable"),
        ("checkout_id", "string.storable"),
    ]


def test_a_list_over_its_limit_is_refused_without_reading_its_items() -> None:
    # Items of the wrong type would each be a violation if they were looked at.
    with pytest.raises(ServiceError) as err:
        message_from_json({"payment_orders": [1] * 5000}, Request)
    assert violations(err) == [("payment_orders", "repeated.max_items")]
