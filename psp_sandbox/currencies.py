"""How many decimals each currency's minor unit has, as Stripe counts them."""

from __future__ import annotations

ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})


# Stripe's special cases for charged amounts (docs.stripe.com/currencies, "Special cases"):
# ISK is "effectively zero-decimal" (whole krónur, still sent with two decimals) and the
# three-decimal currencies' last digit must be 0.
WHOLE_UNITS_ONLY = frozenset({"isk"})


def amount_refusal(amount: int, currency: str) -> tuple[str, str] | None:
    """(error code, message) when Stripe refuses to charge or refund `amount` minor units of
    `currency`; None when it takes it. ISK's code and message are the ones Stripe announced."""
    currency = currency.lower()
    if currency in WHOLE_UNITS_ONLY and amount % 100:
        return (
            "invalid_charge_amount_no_decimal_compatible",
            f"Invalid amount. Currency {currency.upper()} has become effectively zero-decimal "
            "and charged amounts must be evenly divisible by 100.",
        )
    if currency in THREE_DECIMAL and amount % 10:
        return (
            "parameter_invalid_integer",
            f"Invalid amount. Amounts in {currency.upper()} must have 0 as their last digit "
            "(round to the nearest ten).",
        )
    return None


def exponent(currency: str) -> int:
    currency = currency.lower()
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


def to_decimal_string(amount: int, currency: str) -> str:
    """Integer minor units as a decimal string, e.g. (-1234, "usd") -> "-12.34". No floats."""
    digits = exponent(currency)
    if digits == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**digits)
    return f"{sign}{whole}.{fraction:0{digits}d}"
