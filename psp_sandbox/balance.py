"""Balance transactions: what each charge and refund does to the account's balance, with fees.

Amounts are integer minor units, signed (a refund is negative), as on Stripe's wire. The fee is
the sandbox's stand-in for Stripe's standard card pricing: 2.9 % + 30 minor units, rounded half
up, or 3.6 % for zero-decimal currencies, where 30 minor units would be a different price. A
refund has no fee and gives none back (as Stripe since 2023).
"""

from __future__ import annotations

from typing import Any

from psp_sandbox import currencies
from psp_sandbox.ids import new_id

# Settled funds become available two days after the charge, as for a standard US account.
AVAILABLE_AFTER_S = 2 * 24 * 3600
ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())


def card_fee(amount: int, currency: str) -> int:
    if currencies.exponent(currency) == 0:
        return (amount * 36 + 500) // 1000
    return (amount * 29 + 500) // 1000 + 30


def for_charge(charge: dict[str, Any], now: int) -> dict[str, Any]:
    fee = card_fee(charge["amount"], charge["currency"])
    return _transaction("charge", charge["id"], charge["amount"], fee, charge["currency"], now)


def for_refund(refund: dict[str, Any], now: int) -> dict[str, Any]:
    return _transaction("refund", refund["id"], -refund["amount"], 0, refund["currency"], now)


def for_transfer(transfer: dict[str, Any], now: int) -> dict[str, Any]:
    """A transfer to a connected account leaves the platform's balance at once (Connect)."""
    transaction = _transaction(
        "transfer", transfer["id"], -transfer["amount"], 0, transfer["currency"], now
    )
    transaction.update(available_on=now, status="available")
    return transaction


def for_payout(payout: dict[str, Any], now: int) -> dict[str, Any]:
    """The platform's payout to its own bank: its whole amount leaves the balance at once."""
    transaction = _transaction(
        "payout", payout["id"], -payout["amount"], 0, payout["currency"], now
    )
    transaction.update(available_on=now, status="available", description="STRIPE PAYOUT")
    return transaction


def _transaction(
    kind: str, source: str, amount: int, fee: int, currency: str, now: int
) -> dict[str, Any]:
    fee_details = []
    if fee:
        fee_details.append(
            {
                "amount": fee,
                "application": None,
                "currency": currency,
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            }
        )
    return {
        "id": new_id("txn_"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": now + AVAILABLE_AFTER_S,
        "created": now,
        "currency": currency,
        "description": None,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": fee_details,
        "net": amount - fee,
        "reporting_category": kind,
        "source": source,
        "status": "pending",
        "type": kind,
    }
