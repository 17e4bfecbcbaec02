"""Money rules: decimal strings on the wire, Decimal in code, never float.

The currency table is ISO 4217 (active codes) with each currency's number of
minor-unit digits, taken from ISO's published table (the `iso4217` package), not copied by hand.
A PSP may count some currencies differently: that is its adapter's business (for Stripe,
payment_svc.adapters.stripe_currencies). An amount may not carry more decimals than its
currency has.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from types import MappingProxyType

from iso4217 import Currency


def _iso4217_exponents() -> dict[str, int]:
    """Active ISO 4217 codes and their minor-unit digits, from the `iso4217` package (which
    carries ISO's own published table). Codes without a minor unit (gold, SDR, test codes: "N.A."
    in ISO's table) are no currencies a payment can be in, and are left out."""
    return {c.code: c.exponent for c in Currency if c.exponent is not None}


# Built once at import; every lookup after that is one dict access.
CURRENCY_EXPONENTS: Mapping[str, int] = MappingProxyType(_iso4217_exponents())

_AMOUNT = re.compile(r"^[0-9]+(\.[0-9]+)?$")
MAX_AMOUNT = Decimal("1e15")


class InvalidMoney(ValueError):
    """An amount or currency breaks a money rule; `rule` names which one."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def exponent(currency: str) -> int:
    """Number of minor-unit digits of an ISO 4217 currency."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise InvalidMoney("currency.iso4217", f"unknown ISO 4217 currency {currency!r}") from None


def parse_amount(amount: str, currency: str, *, allow_zero: bool = False) -> Decimal:
    """Parse a wire amount ("12.34") for `currency`, refusing anything a payment must not carry.

    Refused: non-decimal text (signs, exponents, spaces, floats as JSON numbers never get here),
    more decimals than the currency has, zero (unless allowed), absurd magnitudes.
    """
    places = exponent(currency)
    if not isinstance(amount, str) or not _AMOUNT.match(amount):
        raise InvalidMoney(
            "amount.decimal", "must be a decimal string of digits with an optional fraction"
        )
    try:
        value = Decimal(amount)
    except InvalidOperation:  # pragma: no cover - the pattern already excludes these
        raise InvalidMoney("amount.decimal", "is not a decimal number") from None
    if "." in amount and len(amount.split(".", 1)[1]) > places:
        raise InvalidMoney("amount.precision", f"{currency} allows at most {places} decimal places")
    if value == 0 and not allow_zero:
        raise InvalidMoney("amount.positive", "must be greater than zero")
    if value >= MAX_AMOUNT:
        raise InvalidMoney("amount.max", "is too large")
    return value


def quantize(value: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, half to even (banker's rounding)."""
    return value.quantize(Decimal(1).scaleb(-exponent(currency)), rounding=ROUND_HALF_EVEN)


def format_amount(value: Decimal, currency: str) -> str:
    """The wire form of an amount: exactly the currency's number of decimals."""
    return str(quantize(value, currency))


def to_minor_units(value: Decimal, currency: str) -> int:
    """Integer minor units for PSPs that want them (cents for USD, yen for JPY)."""
    minor = value.scaleb(exponent(currency))
    if minor != minor.to_integral_value():
        raise InvalidMoney("amount.precision", f"{value} has sub-minor-unit digits in {currency}")
    return int(minor)


def from_minor_units(minor: int, currency: str) -> Decimal:
    return quantize(Decimal(minor).scaleb(-exponent(currency)), currency)


@dataclass(frozen=True)
class Money:
    """An amount in a currency. Arithmetic stays in one currency."""

    amount: Decimal
    currency: str

    @classmethod
    def parse(cls, amount: str, currency: str, *, allow_zero: bool = False) -> Money:
        return cls(parse_amount(amount, currency, allow_zero=allow_zero), currency)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"currency mismatch: {self.currency} and {other.currency}")

    def wire(self) -> str:
        return format_amount(self.amount, self.currency)


def fee_for(amount: Money, rate: Decimal) -> Money:
    """The platform fee on `amount` at `rate` (0.10 is 10 %), rounded half-even to the minor
    unit, never more than the amount itself."""
    if rate < 0 or rate > 1:
        raise ValueError("fee rate must be between 0 and 1")
    fee = quantize(amount.amount * rate, amount.currency)
    return Money(min(fee, amount.amount), amount.currency)
