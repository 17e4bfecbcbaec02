"""The generic validator run at every entry point: proto rules, money rules, card numbers."""

import logging
import time

import pytest

from mesh.errors import ServiceError
from mesh.logs import JsonFormatter
from mesh.validation import storable_text, validate, violations
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


# --- bounded time and storable text -----------------------------------------------------------


def orders_of(n):
    return [order(oid=f"po{i}") for i in range(n)]


def test_a_checkout_of_the_contract_s_maximum_of_100_orders_is_valid():
    # The uniqueness rule was pairwise and ran out of protovalidate's iteration budget here.
    validate(request(orders=orders_of(100)))


def test_a_duplicate_among_100_orders_is_found():
    orders = orders_of(100)
    orders[99].payment_order_id = "po3"
    assert fields(request(orders=orders)) == {("payment_orders", "payment_orders.unique_ids")}


def test_101_orders_are_refused_naming_the_field():
    assert fields(request(orders=orders_of(101))) == {("payment_orders", "repeated.max_items")}


def test_a_huge_list_is_refused_without_looking_at_its_items():
    huge = request(orders=orders_of(20_000))
    started = time.perf_counter()
    found = violations(huge)
    elapsed = time.perf_counter() - started
    assert [(v.field, v.rule) for v in found] == [("payment_orders", "repeated.max_items")]
    assert "20000" in found[0].description
    assert elapsed < 0.2  # the CEL rules alone took seconds, then raised


@pytest.mark.parametrize(
    ("msg", "field"),
    [
        (request(checkout_id="co\x001"), "checkout_id"),
        (request(buyer_info=p.BuyerInfo(buyer_id="b1", name="Ada\x00")), "buyer_info.name"),
        (request(orders=[order(), order(oid="po\x00")]), "payment_orders[1].payment_order_id"),
    ],
)
def test_a_nul_byte_in_any_string_is_refused_naming_the_field(msg, field):
    found = violations(msg)
    assert [(v.field, v.rule) for v in found] == [(field, "string.storable")]


def test_storable_text():
    assert storable_text("Zoë 🙂 ok")
    assert not storable_text("a\x00b")
    assert not storable_text("a\ud800b")
