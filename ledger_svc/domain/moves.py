"""The transaction a wallet move posts: money moved between a seller's buckets (release, hold,
refund split, debt), or out of the wallet by a paid payout and back by a returned one. Each
bucket is one account, so the ledger agrees with the wallet per seller, currency and bucket."""

from __future__ import annotations

from ledger_svc.domain.accounts import (
    PSP_RECEIVABLE,
    SELLER_DEBT,
    SELLER_PAYABLE,
    SELLER_PAYABLE_AVAILABLE,
    SELLER_PAYABLE_RESERVED,
    Side,
    UnknownAccount,
    seller_account_of,
)
from ledger_svc.domain.transaction import InvalidTransaction, Posting, Transaction
from mesh.money import Money

# The wallet's buckets and their accounts; `paid_out` is the PSP balance a payout is paid from.
BUCKET_FAMILIES = {
    "pending": SELLER_PAYABLE,
    "available": SELLER_PAYABLE_AVAILABLE,
    "reserved": SELLER_PAYABLE_RESERVED,
    "debt": SELLER_DEBT,
}


def bucket_account(bucket: str, seller_account: str) -> str:
    if bucket == "paid_out":
        return PSP_RECEIVABLE
    if bucket not in BUCKET_FAMILIES:
        raise InvalidTransaction(f"unknown wallet bucket {bucket!r}")
    try:
        return seller_account_of(BUCKET_FAMILIES[bucket], seller_account)
    except UnknownAccount as err:
        raise InvalidTransaction(str(err)) from None


def wallet_moved(
    move_id: str,
    seller_account: str,
    amount: Money,
    debit: str,
    credit: str,
    reason: str,
    reference: str,
) -> Transaction:
    """Debit the account of bucket `debit`, credit the account of bucket `credit`. The move id
    is the transaction id, so a move is posted once however often it is delivered."""
    if debit == credit:
        raise InvalidTransaction(f"a move from {debit} to itself")
    if amount.amount <= 0:
        raise InvalidTransaction(f"amount must be positive, got {amount.amount}")
    return Transaction(
        transaction_id=move_id,
        description=(
            f"wallet {reason} of {seller_account} ({reference}): {amount.wire()} "
            f"{amount.currency} from {debit} to {credit}"
        ),
        postings=(
            Posting(
                bucket_account(debit, seller_account), Side.DEBIT, amount.amount, amount.currency
            ),
            Posting(
                bucket_account(credit, seller_account), Side.CREDIT, amount.amount, amount.currency
            ),
        ),
    )
