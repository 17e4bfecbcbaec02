"""Stripe's own rules for amounts in integer minor units, where they differ from ISO 4217.

From Stripe's "Supported currencies" page (docs.stripe.com/currencies: "Zero-decimal",
"Three-decimal" and "Special cases") and its notice on fractional ISK (April 2023):

- Zero-decimal: the amount is in major units (¥500 is 500). This includes MGA, which ISO gives
  two decimals: Stripe takes whole ariary only.
- Three-decimal (BHD, JOD, KWD, OMR, TND): three decimals, but the last digit must be 0
  ("5.124 KWD must be rounded to 5120 or 5130").
- ISK: two decimals in the API for backwards compatibility (100 is 1 króna), and the amount
  must be evenly divisible by 100 (whole krónur only; Stripe answers
  `invalid_charge_amount_no_decimal_compatible` otherwise).
- HUF and TWD: two decimals for charges, but zero-decimal for payouts: a payout amount must be
  evenly divisible by 100.
- Every amount: at most eight digits of minor units (99,999,999).

An amount Stripe would refuse is refused here, before any call, with the reason; the checkout's
API refuses it too (payment_svc.service_layer.create_payment asks the port first).
"""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType

from mesh.money import InvalidMoney
from mesh.money import exponent as iso_exponent

ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())
# Two decimals on the wire, but only whole units may be charged (minor units divisible by 100).
WHOLE_UNITS_ONLY = frozenset({"ISK"})
# Two decimals for charges; payouts are whole units only.
WHOLE_UNIT_PAYOUTS = frozenset({"HUF", "TWD"})
MAX_MINOR_UNITS = 99_999_999

# Minor units must be a multiple of this (1 unless listed).
_CHARGE_STEP = MappingProxyType({**dict.fromkeys(THREE_DECIMAL, 10), "ISK": 100})


class StripeAmountRefused(ValueError):
    """Stripe would refuse this amount; the message says why, in the caller's terms."""


def stripe_exponent(currency: str) -> int:
    """How many decimals Stripe's integer minor units have for `currency` (upper case)."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    iso = iso_exponent(currency)  # refuses a code that is no ISO 4217 currency
    if iso > 2:
        # ISO's other three- and four-decimal currencies (IQD, LYD, CLF, UYW) are not among
        # Stripe's presentment currencies.
        raise StripeAmountRefused(f"Stripe does not charge in {currency}")
    return 2


def _integral_minor(amount: Decimal, currency: str, digits: int) -> int:
    minor = amount.scaleb(digits)
    if minor != minor.to_integral_value():
        raise StripeAmountRefused(
            f"Stripe takes {currency} amounts with at most {digits} decimal places"
            + (" (whole units only)" if digits == 0 else "")
        )
    return int(minor)


def charge_minor_units(amount: Decimal, currency: str) -> int:
    """The integer `amount` Stripe expects for a charge or a refund of `amount` `currency`, or
    StripeAmountRefused when Stripe would refuse it."""
    currency = currency.upper()
    minor = _integral_minor(amount, currency, stripe_exponent(currency))
    step = _CHARGE_STEP.get(currency, 1)
    if minor % step:
        if currency in WHOLE_UNITS_ONLY:
            raise StripeAmountRefused(f"Stripe charges {currency} in whole units only")
        raise StripeAmountRefused(
            f"Stripe takes {currency} amounts whose last decimal is 0 "
            f"(a multiple of {Decimal(step).scaleb(-stripe_exponent(currency))})"
        )
    if minor <= 0:
        raise StripeAmountRefused("Stripe charges positive amounts only")
    if minor > MAX_MINOR_UNITS:
        limit = Decimal(MAX_MINOR_UNITS).scaleb(-stripe_exponent(currency))
        raise StripeAmountRefused(f"Stripe charges at most {limit} {currency} at a time")
    return minor


def payout_minor_units(amount: Decimal, currency: str) -> int:
    """The integer `amount` Stripe expects for a payout: as for a charge, and whole units only
    for HUF and TWD."""
    currency = currency.upper()
    minor = charge_minor_units(amount, currency)
    if currency in WHOLE_UNIT_PAYOUTS and minor % 100:
        raise StripeAmountRefused(f"Stripe pays out {currency} in whole units only")
    return minor


def refusal(amount: Decimal, currency: str) -> str | None:
    """Why Stripe would refuse to charge `amount` `currency`, or None when it would take it."""
    try:
        charge_minor_units(amount, currency)
    except (StripeAmountRefused, InvalidMoney) as err:
        return str(err)
    return None
