"""The transaction a succeeded payment order posts."""

from __future__ import annotations

from decimal import Decimal

from ledger_svc.domain.accounts import (
    PLATFORM_FEE_REVENUE,
    PSP_RECEIVABLE,
    Side,
    UnknownAccount,
    seller_payable,
)
from ledger_svc.domain.transaction import InvalidTransaction, Posting, Transaction
from mesh.money import Money


def payment_order_succeeded(
    transaction_id: str, payment_order_id: str, seller_account: str, gross: Money, fee: Money
) -> Transaction:
    """The PSP owes us the gross (debit `psp_receivable`); we owe the seller gross - fee
    (credit `seller_payable:<seller>`) and earned the fee (credit `platform_fee_revenue`).
    A zero line (no fee, or a fee of the whole amount) is left out."""
    if not payment_order_id:
        raise InvalidTransaction("payment_order_id is required")
    if fee.currency != gross.currency:
        raise InvalidTransaction(
            f"fee currency {fee.currency} differs from amount currency {gross.currency}"
        )
    if gross.amount <= 0:
        raise InvalidTransaction(f"amount must be positive, got {gross.amount}")
    if fee.amount < 0 or fee.amount > gross.amount:
        raise InvalidTransaction(f"fee {fee.amount} must be between 0 and amount {gross.amount}")
    try:
        payable = seller_payable(seller_account)
    except UnknownAccount as err:
        raise InvalidTransaction(str(err)) from None
    net = gross - fee
    currency = gross.currency
    lines = [Posting(PSP_RECEIVABLE, Side.DEBIT, gross.amount, currency)]
    if net.amount > 0:
        lines.append(Posting(payable, Side.CREDIT, net.amount, currency))
    if fee.amount > Decimal(0):
        lines.append(Posting(PLATFORM_FEE_REVENUE, Side.CREDIT, fee.amount, currency))
    return Transaction(
        transaction_id=transaction_id,
        description=(
            f"payment order {payment_order_id} succeeded: {gross.wire()} {currency} charged "
            f"for {seller_account}, fee {fee.wire()}"
        ),
        postings=tuple(lines),
        payment_order_id=payment_order_id,
    )
