"""The transaction a succeeded refund posts: the payment's transaction reversed in part."""

from __future__ import annotations

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


def payment_refunded(
    transaction_id: str,
    refund_id: str,
    payment_order_id: str,
    seller_account: str,
    amount: Money,
    fee_refunded: Money,
) -> Transaction:
    """The PSP gives `amount` back to the buyer (credit `psp_receivable`); the seller gives back
    amount - fee_refunded (debit `seller_payable:<seller>`) and the platform its fee share
    (debit `platform_fee_revenue`). A zero line is left out."""
    if not refund_id or not payment_order_id:
        raise InvalidTransaction("refund_id and payment_order_id are required")
    try:
        net = net_of_fee(amount, fee_refunded, fee_name="fee_refunded")
    except InvalidFee as err:
        raise InvalidTransaction(str(err)) from None
    try:
        payable = seller_payable(seller_account)
    except UnknownAccount as err:
        raise InvalidTransaction(str(err)) from None
    currency = amount.currency
    lines = []
    if net.amount > 0:
        lines.append(Posting(payable, Side.DEBIT, net.amount, currency))
    if fee_refunded.amount > 0:
        lines.append(Posting(PLATFORM_FEE_REVENUE, Side.DEBIT, fee_refunded.amount, currency))
    lines.append(Posting(PSP_RECEIVABLE, Side.CREDIT, amount.amount, currency))
    return Transaction(
        transaction_id=transaction_id,
        description=(
            f"refund {refund_id} of payment order {payment_order_id}: {amount.wire()} "
            f"{currency} given back for {seller_account}, fee {fee_refunded.wire()}"
        ),
        postings=tuple(lines),
        refund_id=refund_id,
    )
