"""The generic validator run at every entry point: proto rules, money rules, card numbers."""

import logging

import pytest

from mesh.errors import ServiceError
from mesh.logs import JsonFormatter
from mesh.validation import validate, violations
from paymesh.payment.v1 import payment_pb2 as p

pytestmark = pytest.mark.unit


def request(**overrides):
    orders = overrides.pop(
        "orders",
        [
            p.PaymentOrderInput(
                payment_order_id="po1", seller_account="s1", amount="10.00", currency="USD"
            )
        ],
    )
    base = {
        "request_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "checkout_id": "co1",
        "payment_method": "pm_card_visa",
        "buyer_info": p.BuyerInfo(buyer_id="b1"),
        "payment_orders": orders,
    }
    base.update(overrides)
    return p.CreatePaymentRequest(**base)


def order(amount="10.00", currency="USD", oid="po1"):
    return p.PaymentOrderInput(
        payment_order_id=oid, seller_account="s1", amount=amount, currency=currency
    )


def fields(msg):
    return {(v.field, v.rule) for v in violations(msg)}


def test_a_good_request_passes():
    validate(request())


@pytest.mark.parametrize(
    ("orders", "expected"),
    [
        ([order("10.001")], ("payment_orders[0].amount", "amount.precision")),
        ([order("1e3")], ("payment_orders[0].amount", "string.pattern")),
        ([order("-5")], ("payment_orders[0].amount", "string.pattern")),
        ([order("0")], ("payment_orders[0].amount", "amount.positive")),
        ([order(currency="XYZ")], ("payment_orders[0].currency", "currency.iso4217")),
        ([order(currency="usd")], ("payment_orders[0].currency", "string.pattern")),
        ([], ("payment_orders", "repeated.min_items")),
        ([order(), order(oid="po1")], ("payment_orders", "payment_orders.unique_ids")),
    ],
)
def test_names_the_field_and_the_rule(orders, expected):
    assert expected in fields(request(orders=orders))


def test_request_id_must_be_a_uuid():
    assert ("request_id", "string.uuid") in fields(request(request_id="not-a-uuid"))


def test_a_card_number_anywhere_is_refused_alone_and_never_echoed():
    msg = request(buyer_info=p.BuyerInfo(buyer_id="b1", name="4111 1111 1111 1111"))
    with pytest.raises(ServiceError) as err:
        validate(msg)
    assert err.value.reason == "CARD_NUMBER_REJECTED"
    assert [v.field for v in err.value.violations] == ["buyer_info.name"]
    assert "4111" not in str(err.value) and all(
        "4111" not in v.description for v in err.value.violations
    )


def test_logs_never_carry_a_card_number():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "paid with %s", ("4242424242424242",), None
    )
    line = JsonFormatter("test").format(record)
    assert "4242424242424242" not in line and "REDACTED" in line
