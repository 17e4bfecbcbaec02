"""Stripe's minor units: its own table of zero- and three-decimal currencies and special cases,
refused before any call when Stripe would refuse them (docs.stripe.com/currencies)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mesh.money import CURRENCY_EXPONENTS
from payment_svc.adapters.stripe_currencies import (
    StripeAmountRefused,
    charge_minor_units,
    payout_minor_units,
    refusal,
)
from payment_svc.adapters.stripe_psp import StripePaymentProvider
from payment_svc.domain.psp import ChargeRequest, PspRejected

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("500", "JPY", 500),  # zero-decimal: major units
        ("1000", "UGX", 1000),  # zero-decimal at Stripe, as in ISO
        ("12", "MGA", 12),  # zero-decimal at Stripe, two decimals in ISO
        ("12.00", "MGA", 12),
        ("10.50", "USD", 1050),  # two-decimal
        ("0.01", "EUR", 1),
        ("10.99", "HUF", 1099),  # HUF and TWD charge with two decimals
        ("10.99", "TWD", 1099),
        ("5.120", "KWD", 5120),  # three-decimal, last digit 0
        ("1.5", "BHD", 1500),
        ("500", "ISK", 50000),  # ISK: two decimals on the wire, whole krónur
        ("999999.99", "USD", 99_999_999),  # the largest charge
    ],
)
def test_amounts_stripe_takes_become_its_minor_units(amount, currency, minor):
    assert charge_minor_units(Decimal(amount), currency) == minor
    assert refusal(Decimal(amount), currency) is None


@pytest.mark.parametrize(
    ("amount", "currency", "says"),
    [
        ("500.5", "JPY", "at most 0 decimal places"),
        ("12.50", "MGA", "whole units only"),
        ("5.124", "KWD", "last decimal is 0"),
        ("1.001", "JOD", "last decimal is 0"),
        ("0.005", "OMR", "last decimal is 0"),
        ("0.015", "TND", "last decimal is 0"),
        ("500.50", "ISK", "whole units only"),
        ("1000000.00", "USD", "at most 999999.99 USD"),
        ("100000000", "JPY", "at most 99999999 JPY"),
        ("10.000", "IQD", "does not charge in IQD"),  # ISO three-decimal, not Stripe's
        ("10", "XYZ", "ISO 4217"),
    ],
)
def test_amounts_stripe_would_refuse_are_refused_with_the_reason(amount, currency, says):
    why = refusal(Decimal(amount), currency)
    assert why is not None and says in why


def test_huf_and_twd_payouts_are_whole_units_only():
    assert payout_minor_units(Decimal("10.00"), "HUF") == 1000
    assert payout_minor_units(Decimal("10"), "TWD") == 1000
    assert payout_minor_units(Decimal("10.45"), "USD") == 1045
    for currency in ("HUF", "TWD"):
        with pytest.raises(StripeAmountRefused, match="whole units only"):
            payout_minor_units(Decimal("10.45"), currency)


def test_the_iso_table_comes_from_iso_s_published_data():
    # Spot checks of ISO's exponents (ISK is 0 in ISO, 2 at Stripe); metals and test codes,
    # which have no minor unit, are no currencies a payment can be in.
    assert (CURRENCY_EXPONENTS["USD"], CURRENCY_EXPONENTS["JPY"]) == (2, 0)
    assert (CURRENCY_EXPONENTS["KWD"], CURRENCY_EXPONENTS["CLF"]) == (3, 4)
    assert (CURRENCY_EXPONENTS["ISK"], CURRENCY_EXPONENTS["MGA"]) == (0, 2)
    assert "XAU" not in CURRENCY_EXPONENTS and "XXX" not in CURRENCY_EXPONENTS
    assert len(CURRENCY_EXPONENTS) > 150


async def test_the_adapter_refuses_before_calling_stripe():
    # Nothing listens on this address: a call would be PspUnavailable, not PspRejected.
    psp = StripePaymentProvider("sk_test_x", "http://127.0.0.1:9", timeout_s=0.5)
    try:
        assert psp.amount_refusal(Decimal("5.124"), "KWD") is not None
        with pytest.raises(PspRejected, match="last decimal is 0"):
            await psp.charge(
                ChargeRequest("po_1", Decimal("5.124"), "KWD", "pm_card_visa", "b", "co_1")
            )
    finally:
        await psp.aclose()
