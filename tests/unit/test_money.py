from decimal import Decimal

import pytest

from mesh.money import (
    InvalidMoney,
    Money,
    fee_for,
    format_amount,
    from_minor_units,
    parse_amount,
    to_minor_units,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("10", "USD", Decimal("10")),
        ("10.5", "USD", Decimal("10.5")),
        ("10.55", "USD", Decimal("10.55")),
        ("500", "JPY", Decimal("500")),
        ("1.234", "BHD", Decimal("1.234")),
        ("0.01", "EUR", Decimal("0.01")),
    ],
)
def test_parses_amounts_within_the_currency_precision(amount, currency, expected):
    assert parse_amount(amount, currency) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "rule"),
    [
        ("10.001", "USD", "amount.precision"),
        ("5.5", "JPY", "amount.precision"),
        ("1.2345", "BHD", "amount.precision"),
        ("1e3", "USD", "amount.decimal"),
        ("-5", "USD", "amount.decimal"),
        ("+5", "USD", "amount.decimal"),
        (" 5", "USD", "amount.decimal"),
        ("5.", "USD", "amount.decimal"),
        (".5", "USD", "amount.decimal"),
        ("1,000.00", "USD", "amount.decimal"),
        ("NaN", "USD", "amount.decimal"),
        ("Infinity", "USD", "amount.decimal"),
        ("", "USD", "amount.decimal"),
        ("0", "USD", "amount.positive"),
        ("0.00", "USD", "amount.positive"),
        ("1000000000000000", "USD", "amount.max"),
        ("10", "XYZ", "currency.iso4217"),
        ("10", "usd", "currency.iso4217"),
    ],
)
def test_refuses_what_a_payment_must_not_carry(amount, currency, rule):
    with pytest.raises(InvalidMoney) as err:
        parse_amount(amount, currency)
    assert err.value.rule == rule


def test_zero_is_allowed_only_when_asked():
    assert parse_amount("0", "USD", allow_zero=True) == 0


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        (Decimal("12.34"), "USD", 1234),
        (Decimal("12"), "USD", 1200),
        (Decimal("500"), "JPY", 500),
        (Decimal("1.234"), "BHD", 1234),
    ],
)
def test_minor_units_round_trip(value, currency, minor):
    assert to_minor_units(value, currency) == minor
    assert from_minor_units(minor, currency) == value


def test_minor_units_refuse_sub_unit_digits_rather_than_round():
    with pytest.raises(InvalidMoney):
        to_minor_units(Decimal("0.005"), "USD")


def test_wire_format_has_exactly_the_currency_decimals():
    assert format_amount(Decimal("10"), "USD") == "10.00"
    assert format_amount(Decimal("10"), "JPY") == "10"
    assert format_amount(Decimal("1.5"), "BHD") == "1.500"


def test_fee_rounds_half_even_to_the_minor_unit_and_never_exceeds_the_amount():
    assert fee_for(Money(Decimal("10.05"), "USD"), Decimal("0.10")).amount == Decimal("1.00")
    assert fee_for(Money(Decimal("10.15"), "USD"), Decimal("0.10")).amount == Decimal("1.02")
    assert fee_for(Money(Decimal("0.01"), "USD"), Decimal("1")).amount == Decimal("0.01")
    assert fee_for(Money(Decimal("999"), "JPY"), Decimal("0.10")).amount == Decimal("100")


def test_gross_equals_net_plus_fee_for_every_cent_amount():
    rate = Decimal("0.029")
    for cents in range(1, 5000, 7):
        gross = Money(Decimal(cents).scaleb(-2), "USD")
        fee = fee_for(gross, rate)
        net = gross - fee
        assert net.amount + fee.amount == gross.amount
        assert net.amount >= 0


def test_money_refuses_mixing_currencies():
    with pytest.raises(ValueError):
        Money(Decimal(1), "USD") + Money(Decimal(1), "EUR")
