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
from mesh.fees import InvalidFee, net_of_fee
from mesh.money import Money


def payment_order_succeeded(
    transaction_id: str, payment_order_id: str, seller_account: str, gross: Money, fee: Money
) -> Transaction:
    """The PSP owes us the gross (debit `psp_receivable`); we owe the seller gross - fee
    (credit `seller_payable:<seller>`) and earned the fee (credit `platform_fee_revenue`).
    A zero line (no fee, or a fee of the whole amount) is left out. The fee rule is
    mesh.fees.net_of_fee; the `entries_balanced` trigger guards the balance in the database."""
    if not payment_order_id:
        raise InvalidTransaction("payment_order_id is required")
    try:
        net = net_of_fee(gross, fee)
    except InvalidFee as err:
        raise InvalidTransaction(str(err)) from None
    try:
        payable = seller_payable(seller_account)
    except UnknownAccount as err:
        raise InvalidTransaction(str(err)) from None
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
