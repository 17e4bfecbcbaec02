"""Amount limits per currency, for the risk rules: ¥10,000 is not $10,000, so a limit is
written in each currency's own units. A currency with no entry has no limit here; the rule that
uses the table decides what that means (see docs/adr/0006-fraud-rules.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

_CURRENCY = re.compile(r"^[A-Z]{3}$")
ANY_CURRENCY = "*"  # an entry for every currency not listed (in that currency's own units)


@dataclass(frozen=True)
class AmountLimits:
    """A positive limit per currency, and optionally one for every other currency."""

    per_currency: Mapping[str, Decimal] = field(default_factory=dict)
    otherwise: Decimal | None = None

    def limit_for(self, currency: str) -> Decimal | None:
        """The limit in `currency`, or None when the table has none for it."""
        return self.per_currency.get(currency, self.otherwise)

    @classmethod
    def everywhere(cls, amount: Decimal) -> AmountLimits:
        """The same number in every currency (what a bare number in a setting means)."""
        return cls({}, amount)

    def scaled(self, factor: int) -> AmountLimits:
        return AmountLimits(
            MappingProxyType({c: v * factor for c, v in self.per_currency.items()}),
            None if self.otherwise is None else self.otherwise * factor,
        )

    def __str__(self) -> str:
        entries = [f"{c}:{v}" for c, v in self.per_currency.items()]
        if self.otherwise is not None:
            entries.append(f"{ANY_CURRENCY}:{self.otherwise}")
        return ",".join(entries)

    @classmethod
    def parse(cls, text: str) -> AmountLimits:
        """ "USD:10000,EUR:9000,JPY:1500000" (and "*:500" for any other currency), or a bare
        number, the same in every currency. Raises ValueError saying what is wrong."""
        text = text.strip()
        if ":" not in text:
            return cls.everywhere(_positive(text, "the limit"))
        table: dict[str, Decimal] = {}
        otherwise: Decimal | None = None
        for entry in filter(None, (e.strip() for e in text.split(","))):
            currency, sep, amount = (p.strip() for p in entry.partition(":"))
            if not sep:
                raise ValueError(f"{entry!r} is not CURRENCY:AMOUNT")
            value = _positive(amount, currency)
            if currency == ANY_CURRENCY:
                if otherwise is not None:
                    raise ValueError(f"{ANY_CURRENCY} is given twice")
                otherwise = value
            elif not _CURRENCY.match(currency):
                raise ValueError(f"{currency!r} is not an ISO 4217 code in upper case")
            elif currency in table:
                raise ValueError(f"{currency} is given twice")
            else:
                table[currency] = value
        return cls(MappingProxyType(table), otherwise)


def _positive(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} ({what}) is not a decimal number") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{text!r} ({what}) must be a positive number")
    return value


# The default per-order limit: about USD 10,000 in each currency, rounded, at late-2025 rates.
# A risk policy, not an exchange rate: review it for your marketplace. It lists the major
# currencies, every zero- and three-decimal one and the others Stripe treats specially (ISK,
# HUF, TWD, UGX, MGA); any other currency is refused until it is given a limit.
DEFAULT_MAX_ORDER_AMOUNTS = AmountLimits(
    MappingProxyType(
        {
            c: Decimal(v)
            for c, v in {
                "USD": "10000",
                "EUR": "10000",
                "GBP": "8000",
                "CHF": "9000",
                "CAD": "14000",
                "AUD": "15000",
                "NZD": "17000",
                "JPY": "1500000",
                "CNY": "70000",
                "HKD": "78000",
                "SGD": "13000",
                "KRW": "14000000",
                "TWD": "310000",
                "INR": "850000",
                "IDR": "160000000",
                "MYR": "43000",
                "THB": "330000",
                "PHP": "570000",
                "VND": "260000000",
                "SEK": "100000",
                "NOK": "100000",
                "DKK": "65000",
                "PLN": "37000",
                "CZK": "210000",
                "HUF": "3500000",
                "RON": "45000",
                "BGN": "17000",
                "ISK": "1300000",
                "TRY": "400000",
                "ILS": "35000",
                "AED": "37000",
                "SAR": "37000",
                "QAR": "36000",
                "BRL": "55000",
                "MXN": "185000",
                "CLP": "9500000",
                "COP": "40000000",
                "PEN": "35000",
                "ZAR": "180000",
                "EGP": "490000",
                "KES": "1300000",
                "MAD": "92000",
                "UGX": "37000000",
                "MGA": "45000000",
                "BHD": "3800",
                "JOD": "7000",
                "KWD": "3000",
                "OMR": "3800",
                "TND": "29000",
                "IQD": "13000000",
                "LYD": "54000",
                # Stripe's other zero-decimal currencies.
                "BIF": "29500000",
                "DJF": "1780000",
                "GNF": "86000000",
                "KMF": "4200000",
                "PYG": "75000000",
                "RWF": "14500000",
                "VUV": "1200000",
                "XAF": "5600000",
                "XOF": "5600000",
                "XPF": "1000000",
            }.items()
        }
    )
)

# What one buyer (or one card token) may pay in the velocity window: five orders' worth.
DEFAULT_VELOCITY_MAX_AMOUNTS = DEFAULT_MAX_ORDER_AMOUNTS.scaled(5)
