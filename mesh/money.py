"""Money rules: decimal strings on the wire, Decimal in code, never float.

The currency table is ISO 4217 (active codes) with each currency's number of
minor-unit digits. An amount may not carry more decimals than its currency has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

_ZERO_DECIMALS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE_DECIMALS = "BHD IQD JOD KWD LYD OMR TND"
_FOUR_DECIMALS = "CLF UYW"
_TWO_DECIMALS = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD "
    "FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD "
    "KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD "
    "NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP "
    "SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED "
    "VES WST XCD XCG YER ZAR ZMW ZWG"
)

CURRENCY_EXPONENTS: dict[str, int] = {
    **{c: 0 for c in _ZERO_DECIMALS.split()},
    **{c: 2 for c in _TWO_DECIMALS.split()},
    **{c: 3 for c in _THREE_DECIMALS.split()},
    **{c: 4 for c in _FOUR_DECIMALS.split()},
}

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
